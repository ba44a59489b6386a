"""`python -m feedbackctl ...`: the same as the `feedbackctl` command."""

from feedbackctl.main import run

if __name__ == "__main__":
    run()
