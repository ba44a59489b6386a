"""The producer SDK agents call: `FeedbackClient` (and its asyncio twin) plus the traffic generator.

from producers import FeedbackClient

with FeedbackClient() as feedback:
    turn = feedback.log_interaction(session_id=..., turn_index=0, agent_id=..., ...)
    feedback.log_feedback(session_id=..., interaction_id=turn, kind="thumbs", thumbs_up=True)
"""

from producers.async_client import AsyncFeedbackClient
from producers.client import FeedbackClient, ProducerTopics
from producers.exceptions import (
    DeliveryFailedError,
    ProducerClosedError,
    ProducerError,
    QueueFullError,
)
from producers.metrics import ProducerStats
from producers.settings import ProducerSettings
from producers.traffic import TrafficConfig, generate_traffic
from producers.truth import GroundTruth
from schemas.exceptions import InvalidRecordError

__all__ = [
    "AsyncFeedbackClient",
    "DeliveryFailedError",
    "FeedbackClient",
    "GroundTruth",
    "InvalidRecordError",
    "ProducerClosedError",
    "ProducerError",
    "ProducerSettings",
    "ProducerStats",
    "ProducerTopics",
    "QueueFullError",
    "TrafficConfig",
    "generate_traffic",
]
