"""The local stack: a real single-node Kafka (KRaft) and a real Redis, started by the project."""

from local_stack.exceptions import StackError
from local_stack.settings import StackSettings
from local_stack.stack import LocalStack, ServiceStatus

__all__ = ["LocalStack", "ServiceStatus", "StackError", "StackSettings"]
