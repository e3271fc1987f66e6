"""One boto3 client per session (account), region and service, made once however many calls share it; the
count of clients made is what `make bench` reads (IAM clients = accounts)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import boto3

from migrator.aws.session import client, clients_made


def _session() -> boto3.Session:
    return boto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", region_name="us-east-1")


def test_a_session_gets_one_client_per_service_however_many_threads_ask() -> None:
    before = clients_made().get("iam", 0)
    one, other = _session(), _session()
    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(lambda i: client(one if i % 2 else other, "iam"), range(200)))
    assert len({id(c) for c in made}) == 2
    assert clients_made()["iam"] - before == 2
    assert client(one, "iam") is client(one, "iam")
    assert clients_made()["iam"] - before == 2
