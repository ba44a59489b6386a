"""The worker's own topics (table changelogs, the assignor's leader topic): created before it
joins its group, named as Faust names them."""

import uuid

from confluent_kafka.admin import AdminClient

from local_stack.topics import ensure_topics
from stream_processors.app import build_app, internal_topics
from stream_processors.settings import ProcessorSettings


def test_the_topics_faust_uses_are_created_with_every_partition(
    bootstrap_servers: str,
) -> None:
    settings = ProcessorSettings(
        namespace=f"topics{uuid.uuid4().hex[:8]}", bootstrap_servers=bootstrap_servers
    )
    app, _ = build_app(settings)
    changelogs = {table.changelog_topic.get_topic_name() for table in app.tables.values()}
    leader = app._leader_assignor._leader_topic_name  # Faust's own name for it
    faust_names = {*changelogs, leader}
    ours = internal_topics(settings)
    assert {spec.name for spec in ours} == faust_names
    assert sorted(ensure_topics(bootstrap_servers, ours)) == sorted(faust_names)
    metadata = AdminClient({"bootstrap.servers": bootstrap_servers}).list_topics(timeout=10)
    for spec in ours:
        partitions = metadata.topics[spec.name].partitions
        assert sorted(partitions) == list(range(1 if spec.name == leader else 6))
        assert all(p.leader >= 0 for p in partitions.values())
    assert ensure_topics(bootstrap_servers, ours) == []  # already there: nothing to create
