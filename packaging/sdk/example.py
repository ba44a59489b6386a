"""Sends one interaction and its thumbs-up with the light SDK, then prints the interaction's id.

FEEDBACK_PRODUCER_BOOTSTRAP_SERVERS=127.0.0.1:19092 python example.py
"""

import time
import uuid

from agent_feedback_sdk import FeedbackClient


def main() -> None:
    session_id = f"sdk-example-{uuid.uuid4()}"
    with FeedbackClient() as feedback:
        turn = feedback.log_interaction(
            session_id=session_id,
            turn_index=0,
            agent_id="sdk-example",
            agent_version="0.1.0",
            model="example-model",
            event_time=int(time.time() * 1000),
            prompt="How do I reset my password?",
            response="Open Settings, then Security, then Reset password.",
            latency_ms=420,
        )
        feedback.log_feedback(
            session_id=session_id, interaction_id=turn, kind="thumbs", thumbs_up=True
        )
        if feedback.flush(30) != 0:
            raise SystemExit("events still undelivered after 30 s")
    print(turn)


if __name__ == "__main__":
    main()
