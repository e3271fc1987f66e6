// Command authenticator is a differential oracle for the tests: it reads
// aws-auth the way aws-iam-authenticator's EKSConfigMap mapper does
// (pkg/mapper/configmap at 81b1dab), built against the real Go YAML
// libraries (Debian's sigs.k8s.io/yaml and gopkg.in/yaml.v2), so that pytest
// can compare our Python reading of aws-auth with the Go one.
//
// None of the authenticator's code is here: the structs carry the same json
// tags and the rules are re-stated from reading it. Protocol: one JSON request
// per stdin line, exactly one JSON answer per line on stdout, flushed at once
// (pytest keeps one process for the whole session). The request and answer
// shapes are described in tests/differential/conftest.py.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"
	"unicode"

	yaml "gopkg.in/yaml.v2"
	sigsyaml "sigs.k8s.io/yaml"
)

// The json tags are what matter: encoding/json matches them
// case-insensitively (with Unicode simple folding), exactly as in the
// authenticator's config.RoleMapping / UserMapping / SSOARNMatcher.
type SSO struct {
	PermissionSetName string `json:"permissionSetName"`
	AccountID         string `json:"accountID"`
	Partition         string `json:"partition,omitempty"`
}

type RoleMapping struct {
	RoleARN  string   `json:"rolearn,omitempty"`
	SSO      *SSO     `json:"sso,omitempty"`
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
	UserID   string   `json:"userid,omitempty"`
}

type UserMapping struct {
	UserARN  string   `json:"userarn"`
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
	UserID   string   `json:"userid,omitempty"`
}

// pkg/endpoints PARTITIONS: the only values an sso.partition may take.
var partitions = map[string]bool{
	"aws": true, "aws-cn": true, "aws-us-gov": true, "aws-iso": true,
	"aws-iso-b": true, "aws-iso-e": true, "aws-iso-f": true, "aws-eusc": true,
}

var (
	accountIDRe     = regexp.MustCompile(`^[0-9]{12}$`)
	permissionSetRe = regexp.MustCompile(`^[\w+=,.@-]{1,32}$`)
	// The ArnLike pattern "arn:*:iam:*:*:role/*" section by section; `*`
	// becomes `.*`, which (no (?s)) does not cross a newline.
	arnLikeRe = []*regexp.Regexp{
		regexp.MustCompile(`^arn$`), regexp.MustCompile(`^.*$`), regexp.MustCompile(`^iam$`),
		regexp.MustCompile(`^.*$`), regexp.MustCompile(`^.*$`), regexp.MustCompile(`^role/.*$`),
	}
)

// ssoArnLike keeps the authenticator's quirk: the "aws" default is used only
// when no partition is given, and a given partition is NOT substituted, so
// {partition: aws} yields "arn::iam::..." (a different key from no partition).
func (m *RoleMapping) ssoArnLike() string {
	if m.SSO == nil {
		return ""
	}
	partition := ""
	if m.SSO.Partition == "" {
		partition = "aws"
	}
	return strings.ToLower(fmt.Sprintf("arn:%s:iam::%s:role/AWSReservedSSO_%s_*",
		partition, m.SSO.AccountID, m.SSO.PermissionSetName))
}

func (m *RoleMapping) validate() error {
	if m.RoleARN == "" && m.SSO == nil {
		return fmt.Errorf("one of rolearn or SSO must be supplied")
	}
	if m.RoleARN != "" && m.SSO != nil {
		return fmt.Errorf("only one of rolearn or SSO can be supplied")
	}
	if m.SSO == nil {
		return nil
	}
	if !accountIDRe.MatchString(m.SSO.AccountID) {
		return fmt.Errorf("AccountID '%s' is not a valid AWS Account ID", m.SSO.AccountID)
	}
	if !permissionSetRe.MatchString(m.SSO.PermissionSetName) {
		return fmt.Errorf("PermissionSetName '%s' is not a valid AWS SSO PermissionSet Name", m.SSO.PermissionSetName)
	}
	if m.SSO.Partition != "" && !partitions[m.SSO.Partition] {
		return fmt.Errorf("partition '%s' is not a valid AWS partition", m.SSO.Partition)
	}
	// Unreachable after the checks above, kept so that a change to them shows.
	like := m.ssoArnLike()
	sections := strings.SplitN(like, ":", 6)
	if len(sections) != 6 {
		return fmt.Errorf("SSOArnLike '%s' is not valid", like)
	}
	for i, re := range arnLikeRe {
		if !re.MatchString(sections[i]) {
			return fmt.Errorf("SSOArnLike '%s' did not match an ARN for a canonicalized IAM Role", like)
		}
	}
	return nil
}

// Roles are keyed lower-cased, users as written: two user entries differing
// only in case are two keys, and either may answer a lookup.
func (m *RoleMapping) key() string {
	if m.RoleARN != "" {
		return strings.ToLower(m.RoleARN)
	}
	return m.ssoArnLike()
}

// An SSO mapping matches nothing: SSORoleMatchEnabled is off unless the
// server runs with the SSORoleMatch feature gate.
func (m *RoleMapping) matches(subject string) bool {
	return m.RoleARN != "" && strings.EqualFold(m.RoleARN, subject)
}

func isSkippable(text string) bool {
	t := strings.TrimSpace(text)
	return t == "" || t == "``" || t == `""` || t == "''"
}

// looksLikeJSON is apimachinery's sniff: the first rune that is not
// unicode.IsSpace (so U+00A0 or U+2028 are skipped too) is '{'.
func looksLikeJSON(text []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeftFunc(text, unicode.IsSpace), []byte("{"))
}

// toJSON is apimachinery's utilyaml.ToJSON: JSON-looking text is passed on
// untouched (it can never decode into a list), the rest goes through YAML.
func toJSON(text []byte) (out []byte, isJSON bool, err error) {
	if looksLikeJSON(text) {
		return text, true, nil
	}
	out, err = sigsyaml.YAMLToJSON(text)
	return out, false, err
}

type section struct {
	Status      string   `json:"status"`
	Error       string   `json:"error"`
	Errors      []string `json:"errors"`
	DecodeError string   `json:"decode_error"`
	Dropped     int      `json:"dropped"`
}

func (s *section) fail(err error) {
	if s.Error == "" {
		s.Error = err.Error()
	}
	s.Errors = append(s.Errors, err.Error())
}

func newSection() *section { return &section{Status: "absent", Errors: []string{}} }

// decodeMappings runs one of mapRoles/mapUsers through ToJSON and
// encoding/json into out (a pointer to a slice). A decode error keeps what
// was decoded, as the authenticator does.
func decodeMappings(data map[string]string, name string, out interface{}) *section {
	s := newSection()
	text, ok := data[name]
	if !ok {
		return s
	}
	if isSkippable(text) {
		s.Status = "skipped"
		return s
	}
	js, isJSON, err := toJSON([]byte(text))
	if err != nil {
		s.Status = "yaml_error"
		s.fail(err)
		return s
	}
	s.Status = "ok"
	if isJSON {
		s.Status = "json"
	}
	if err := json.Unmarshal(js, out); err != nil {
		s.DecodeError = err.Error()
		s.fail(err)
	}
	return s
}

// ssoOut always shows partition, even when it is empty.
type ssoOut struct {
	PermissionSetName string `json:"permissionSetName"`
	AccountID         string `json:"accountID"`
	Partition         string `json:"partition"`
}

type roleOut struct {
	Key      string   `json:"key"`
	RoleARN  string   `json:"rolearn"`
	SSO      *ssoOut  `json:"sso"`
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

type userOut struct {
	Key      string   `json:"key"`
	UserARN  string   `json:"userarn"`
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

type candidate struct {
	Key      string   `json:"key,omitempty"`
	Username string   `json:"username"`
	Groups   []string `json:"groups"`
}

type lookup struct {
	Via        string      `json:"via"`
	Candidates []candidate `json:"candidates"`
}

type state struct {
	ID       json.RawMessage     `json:"id"`
	Error    *string             `json:"error"`
	Data     map[string]string   `json:"data"`
	Sections map[string]*section `json:"sections"`
	Roles    []roleOut           `json:"roles"`
	Users    []userOut           `json:"users"`
	Accounts []string            `json:"accounts"`
	Lookup   map[string]lookup   `json:"lookup"`
}

func readState(data map[string]string, probes []string) *state {
	st := &state{Data: data, Sections: map[string]*section{}, Lookup: map[string]lookup{}}

	rawUsers := make([]UserMapping, 0)
	st.Sections["mapUsers"] = decodeMappings(data, "mapUsers", &rawUsers)
	users := map[string]UserMapping{}
	for _, u := range rawUsers {
		if u.UserARN == "" {
			st.Sections["mapUsers"].Dropped++
			st.Sections["mapUsers"].fail(fmt.Errorf("value for userarn must be supplied"))
			continue
		}
		users[u.UserARN] = u // later entries overwrite earlier ones
	}

	rawRoles := make([]RoleMapping, 0)
	st.Sections["mapRoles"] = decodeMappings(data, "mapRoles", &rawRoles)
	roles := map[string]RoleMapping{}
	for _, r := range rawRoles {
		if err := r.validate(); err != nil {
			st.Sections["mapRoles"].Dropped++
			st.Sections["mapRoles"].fail(err)
			continue
		}
		roles[r.key()] = r
	}

	// mapAccounts skips JSON entirely: yaml.v2 straight into []string, so a
	// bare number keeps its text. A *yaml.TypeError still keeps the rest.
	accountsSection := newSection()
	accounts := map[string]bool{}
	if text, ok := data["mapAccounts"]; ok {
		if isSkippable(text) {
			accountsSection.Status = "skipped"
		} else {
			list := make([]string, 0)
			err := yaml.Unmarshal([]byte(text), &list)
			accountsSection.Status = "ok"
			if err != nil {
				if _, partial := err.(*yaml.TypeError); partial {
					accountsSection.DecodeError = err.Error()
				} else {
					accountsSection.Status = "yaml_error"
				}
				accountsSection.fail(err)
			}
			for _, a := range list {
				accounts[a] = true
			}
		}
	}
	st.Sections["mapAccounts"] = accountsSection

	st.Roles = []roleOut{}
	for k, r := range roles {
		var sso *ssoOut
		if r.SSO != nil {
			sso = &ssoOut{r.SSO.PermissionSetName, r.SSO.AccountID, r.SSO.Partition}
		}
		st.Roles = append(st.Roles, roleOut{k, r.RoleARN, sso, r.Username, r.Groups})
	}
	sort.Slice(st.Roles, func(i, j int) bool { return st.Roles[i].Key < st.Roles[j].Key })
	st.Users = []userOut{}
	for k, u := range users {
		st.Users = append(st.Users, userOut{k, u.UserARN, u.Username, u.Groups})
	}
	sort.Slice(st.Users, func(i, j int) bool { return st.Users[i].Key < st.Users[j].Key })
	st.Accounts = []string{}
	for a := range accounts {
		st.Accounts = append(st.Accounts, a)
	}
	sort.Strings(st.Accounts)

	all := append([]string{}, probes...)
	for _, r := range st.Roles {
		all = append(all, r.Key)
	}
	for _, u := range st.Users {
		all = append(all, strings.ToLower(u.Key))
	}
	for _, p := range all {
		st.Lookup[p] = mapIdentity(p, st.Roles, roles, st.Users, users, accounts)
	}
	return st
}

// mapIdentity is ConfigMapMapper.Map followed by the server's mapAccounts
// fallback. The authenticator ranges over Go maps and returns the first
// match, so every match is a possible answer: all of them are reported, in
// key order.
func mapIdentity(probe string, roleList []roleOut, roles map[string]RoleMapping,
	userList []userOut, users map[string]UserMapping, accounts map[string]bool) lookup {
	subject := strings.ToLower(probe) // ToLower first, then EqualFold: not the same as EqualFold alone
	var found []candidate
	for _, ro := range roleList {
		r := roles[ro.Key]
		if r.matches(subject) {
			found = append(found, candidate{ro.Key, r.Username, r.Groups})
		}
	}
	if len(found) > 0 {
		return lookup{"mapRoles", found}
	}
	for _, uo := range userList {
		if strings.EqualFold(users[uo.Key].UserARN, subject) {
			found = append(found, candidate{uo.Key, uo.Username, uo.Groups})
		}
	}
	if len(found) > 0 {
		return lookup{"mapUsers", found}
	}
	// The server asks IsAccountAllowed(identity.AccountID) and answers with
	// the canonical ARN as it came (not lower-cased) and no groups.
	if fields := strings.Split(probe, ":"); len(fields) > 4 && accounts[fields[4]] {
		return lookup{"mapAccounts", []candidate{{Username: probe, Groups: []string{}}}}
	}
	return lookup{"none", []candidate{}}
}

// configMap is what the API server would store from the document: its data
// is map[string]string. kubectl reads a file with the same '{' sniff as
// toJSON (YAMLOrJSONDecoder): JSON through encoding/json, anything else
// through sigs.k8s.io/yaml (first document; a bare number or bool under
// data: becomes its text there, where the API server would refuse it).
type configMap struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Data map[string]string `json:"data"`
}

type request struct {
	ID       json.RawMessage   `json:"id"`
	Document *string           `json:"document"`
	Data     map[string]string `json:"data"`
	Probes   []string          `json:"probes"`
	Resolve  []string          `json:"resolve"`
}

type failure struct {
	ID    json.RawMessage `json:"id"`
	Error string          `json:"error"`
	Panic string          `json:"panic,omitempty"`
}

type kinds struct {
	ID    json.RawMessage `json:"id"`
	Kinds []string        `json:"kinds"`
}

// kindOf names the Go type yaml.v2 gives a plain value, which is what
// decides whether a mapRoles/mapUsers scalar reaches JSON as a string.
func kindOf(text string) string {
	var v interface{}
	if err := yaml.Unmarshal([]byte(text), &v); err != nil {
		return "error:" + err.Error()
	}
	switch v.(type) {
	case string:
		return "str"
	case int, int64:
		return "int"
	case uint64:
		return "uint"
	case float64:
		return "float"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return fmt.Sprintf("other:%T", v)
}

func answer(line []byte) (out interface{}) {
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		return failure{ID: json.RawMessage("null"), Error: "bad request: " + err.Error()}
	}
	id := req.ID
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	// A panic is a finding about the oracle, not a reason to lose the
	// session: report it on this line and go on.
	defer func() {
		if p := recover(); p != nil {
			out = failure{ID: id, Error: fmt.Sprint(p), Panic: fmt.Sprintf("%v\n%s", p, debug.Stack())}
		}
	}()
	switch {
	case req.Resolve != nil:
		res := kinds{ID: id, Kinds: []string{}}
		for _, t := range req.Resolve {
			res.Kinds = append(res.Kinds, kindOf(t))
		}
		return res
	case req.Document != nil:
		var cm configMap
		doc := []byte(*req.Document)
		decode := sigsyaml.Unmarshal
		if looksLikeJSON(doc) {
			decode = func(b []byte, v interface{}, _ ...sigsyaml.JSONOpt) error { return json.Unmarshal(b, v) }
		}
		if err := decode(doc, &cm); err != nil {
			return failure{ID: id, Error: err.Error()}
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		st := readState(cm.Data, req.Probes)
		st.ID = id
		return st
	case req.Data != nil:
		st := readState(req.Data, req.Probes)
		st.ID = id
		return st
	}
	return failure{ID: id, Error: "bad request: none of document, data, resolve"}
}

func main() {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	w := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(w) // Encode ends each value with '\n'
	enc.SetEscapeHTML(false)
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			if encErr := enc.Encode(answer(line)); encErr != nil {
				_ = enc.Encode(failure{ID: json.RawMessage("null"), Error: "encoding answer: " + encErr.Error()})
			}
			if flushErr := w.Flush(); flushErr != nil {
				os.Exit(1) // the reader is gone
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
