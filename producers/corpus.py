"""Text of generated sessions: prompts, good and bad answers, reasoning, tool calls per domain.

Good answers are specific and actionable; bad ones are vague, wrong or refuse. Some prompts carry
personal data (emails, phone numbers, card numbers, API keys) for curation's scrubbing to find.
"""

import json
import random
from dataclasses import dataclass
from typing import Any

__all__ = ["DOMAINS", "Domain", "Turn", "compose_turn"]


@dataclass(frozen=True)
class Domain:
    """What one agent is for: its topics, tools and phrasing."""

    name: str
    system_prompt: str
    subjects: tuple[str, ...]
    asks: tuple[str, ...]
    good_openers: tuple[str, ...]
    steps: tuple[str, ...]
    bad_answers: tuple[str, ...]
    tools: tuple[str, ...]


DOMAINS: dict[str, Domain] = {
    "support": Domain(
        name="support",
        system_prompt="You are the support assistant of Acme Cloud. Be precise and kind.",
        subjects=(
            "my invoice for March",
            "the billing page",
            "two-factor login",
            "my API quota",
            "a refund for order 4471",
            "the export to CSV",
            "the mobile app sync",
            "password reset emails",
            "my team's seat count",
            "the webhook retries",
        ),
        asks=(
            "I can't get {s} to work since yesterday. What should I do?",
            "Why is {s} showing an error when I open it?",
            "Can you explain how {s} works for a team of 20 people?",
            "Something is wrong with {s}; it worked last week.",
            "How do I change {s} without losing my settings?",
        ),
        good_openers=(
            "Thanks for the details. Here is what fixes {s}:",
            "I checked your account and found the cause for {s}.",
            "This is a known behaviour of {s}; follow these steps:",
        ),
        steps=(
            "open Settings > Billing and select the affected period",
            "sign out on every device, then sign in again to refresh the token",
            "clear the cached credentials in the app under Profile > Security",
            "re-run the export with the 'include archived' option enabled",
            "raise the quota from the Usage tab; the change applies within five minutes",
            "confirm the request from the email we just sent you",
            "check that the webhook endpoint answers 2xx within ten seconds",
        ),
        bad_answers=(
            "I'm not sure what you mean. Could you try again later?",
            "Please contact support for help with that.",
            "That feature does not exist.",
            "Have you tried turning it off and on again?",
        ),
        tools=("lookup_account", "search_kb", "create_ticket", "issue_refund"),
    ),
    "code": Domain(
        name="code",
        system_prompt="You are a senior software engineer helping with code. Show working code.",
        subjects=(
            "a Python list comprehension",
            "a flaky pytest fixture",
            "a SQL join on two tables",
            "a memory leak in a Node service",
            "a Rust borrow checker error",
            "a Kafka consumer that lags",
            "a race condition in Go",
            "a slow pandas groupby",
            "a Dockerfile that rebuilds every time",
            "a TypeScript generic constraint",
        ),
        asks=(
            "How do I fix {s}? Here's the traceback from CI.",
            "Can you review {s} and tell me what's wrong?",
            "What's the idiomatic way to write {s}?",
            "My tests fail because of {s}. Any idea?",
            "Explain {s} like I'm new to the codebase.",
        ),
        good_openers=(
            "The root cause of {s} is visible in the trace:",
            "Here is a minimal fix for {s}, with a test:",
            "Rewrite {s} like this; it avoids the extra copy:",
        ),
        steps=(
            "move the setup into a session-scoped fixture and yield the client",
            "replace the nested loop with a single dict lookup keyed by id",
            "add an index on orders(customer_id) and join on it",
            "release the listener in the finally block so the closure is freed",
            "batch the polls with max.poll.records and commit after processing",
            "guard the shared map with a sync.Mutex or use sync.Map",
            "copy requirements before the source so the layer cache holds",
        ),
        bad_answers=(
            "This code looks fine to me.",
            "Just add a try/except around everything.",
            "You should rewrite it in another language.",
            "I cannot help with code questions.",
        ),
        tools=("run_tests", "read_file", "search_docs", "execute_python"),
    ),
    "travel": Domain(
        name="travel",
        system_prompt="You are a travel planner. Give concrete options with prices and times.",
        subjects=(
            "a weekend in Lisbon",
            "a train from Paris to Milan",
            "a family trip to Kyoto",
            "a hotel near the Berlin congress centre",
            "a cheap flight to Montreal",
            "a hiking route in the Dolomites",
            "a layover in Singapore",
        ),
        asks=(
            "Plan {s} for two adults in May, budget around 900 euros.",
            "What are my options for {s}? I need flexible tickets.",
            "Is {s} doable with a toddler? What should I book first?",
            "Find me {s} with a late check-out.",
        ),
        good_openers=(
            "Here is a plan for {s} that fits the budget:",
            "Three options for {s}, cheapest first:",
            "For {s} I would book in this order:",
        ),
        steps=(
            "book the 08:42 direct train, second class, flexible fare at 89 EUR",
            "stay two nights in Alfama, 120 EUR per night with breakfast",
            "reserve the museum pass online to skip the queue",
            "take the airport express; it runs every 15 minutes until midnight",
            "pick the refundable fare; the difference is only 35 EUR",
        ),
        bad_answers=(
            "Travel is fun! You should go somewhere nice.",
            "I don't have information about that place.",
            "Prices change, so I can't say anything.",
            "Book whatever is cheapest.",
        ),
        tools=("search_flights", "search_trains", "search_hotels", "currency_convert"),
    ),
}

_PII_SNIPPETS = (
    " You can reach me at {name}@example.com.",
    " My phone is +1 415 555 {n4}.",
    " The card on file is 4111 1111 1111 {n4}.",
    " I pasted my key sk-live-{hex24} by mistake, sorry.",
)
_NAMES = ("jane.doe", "omar.k", "li.wei", "maria.s", "tom.h", "aiko.t")


@dataclass(frozen=True)
class Turn:
    """The text and tool calls of one generated turn."""

    prompt: str
    response: str
    reasoning: str | None
    tools_used: list[dict[str, Any]]
    correction: str


def compose_turn(
    rng: random.Random, domain: Domain, good: bool, pii_share: float, prompt: str | None = None
) -> Turn:
    """Write one turn; `prompt` repeats an earlier prompt (a retry)."""
    subject = rng.choice(domain.subjects)
    if prompt is None:
        prompt = rng.choice(domain.asks).format(s=subject)
        prompt += " " + " ".join(rng.sample(_CONTEXT_SENTENCES, k=2))
        if rng.random() < pii_share:
            prompt += rng.choice(_PII_SNIPPETS).format(
                name=rng.choice(_NAMES),
                n4=f"{rng.randrange(10000):04d}",
                hex24="".join(rng.choice("0123456789abcdef") for _ in range(24)),
            )
    good_answer = _good_answer(rng, domain, subject)
    response = good_answer if good else rng.choice(domain.bad_answers) + " " + _filler(rng)
    reasoning = None
    if rng.random() < 0.6:
        reasoning = (
            f"The user asks about {subject}. Check the account state and recent changes first, "
            f"look for a known issue that matches the symptoms, then give "
            f"{'numbered steps the user can follow without help' if good else 'a short answer'}."
        )
    tools = _tool_calls(rng, domain, good)
    return Turn(prompt, response, reasoning, tools, correction=good_answer)


def _good_answer(rng: random.Random, domain: Domain, subject: str) -> str:
    steps = rng.sample(domain.steps, k=min(4, len(domain.steps)))
    body = " ".join(f"{i}. {step[0].upper()}{step[1:]}." for i, step in enumerate(steps, 1))
    closing = rng.choice(
        (
            "Tell me if anything in these steps does not match what you see.",
            "That should settle it; I have noted the change on your record.",
            "If it still fails, send me the request id and I will trace it.",
        )
    )
    return f"{rng.choice(domain.good_openers).format(s=subject)} {body} {closing}"


_CONTEXT_SENTENCES = (
    "I'm on the Pro plan and this blocks my whole team today.",
    "I already read the documentation page but it did not help.",
    "This is urgent because we have a release on Friday.",
    "We use the EU region, if that matters.",
    "I tried twice and got the same result both times.",
)


def _filler(rng: random.Random) -> str:
    return rng.choice(
        ("Let me know if there is anything else.", "Hope this helps!", "Thanks for reaching out.")
    )


def _tool_calls(rng: random.Random, domain: Domain, good: bool) -> list[dict[str, Any]]:
    calls = []
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        failed = rng.random() < (0.04 if good else 0.3)
        status = ("timeout" if rng.random() < 0.3 else "error") if failed else "ok"
        calls.append(
            {
                "name": rng.choice(domain.tools),
                "arguments": json.dumps({"query": rng.choice(domain.subjects), "limit": 5}),
                "status": status,
                "latency_ms": rng.randint(20, 2500),
            }
        )
    return calls
