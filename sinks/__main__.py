"""`python -m sinks`: run the sink, same as `feedbackctl sink` (settings from FEEDBACK_SINK_*)."""

from feedbackctl.sink_commands import app

if __name__ == "__main__":
    app()
