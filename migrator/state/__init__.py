"""Where runs keep what they must remember: the StateStore port's local adapter (`files`), the `--state`
location (`location`), and the key rules both adapters share (`keys`). The S3 adapter is `migrator/aws/s3state`
(only `aws/` imports boto3)."""
