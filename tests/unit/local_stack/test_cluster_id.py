import uuid

import pytest

from local_stack import kafka_node
from local_stack.kafka_node import new_cluster_id


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    """base64url of a UUID whose first byte is 0xf8 starts with "-", which the storage tool
    takes for an option ("argument --cluster-id/-t: expected one argument")."""
    dashed = uuid.UUID(bytes=b"\xf8" + bytes(15))
    plain = uuid.UUID(bytes=b"\x10" + bytes(15))
    drawn = iter([dashed, plain])
    monkeypatch.setattr(kafka_node.uuid, "uuid4", lambda: next(drawn))
    cluster_id = new_cluster_id()
    assert cluster_id == "EAAAAAAAAAAAAAAAAAAAAA"
    assert len(cluster_id) == 22
