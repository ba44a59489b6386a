"""`python -m feedbackctl ...`: the same as the `feedbackctl` command."""

from feedbackctl.main import app

if __name__ == "__main__":
    app()
