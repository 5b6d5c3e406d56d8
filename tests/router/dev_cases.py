"""The routing development set: one case per dict, {"id", "kind", "expect", "request"}.

The development set of the routing definitions (docs/reference/routing.md), the same 65 prompts and labels, kept
here so that nothing reads outside the repository at run or test time. expect is the tier a good router picks
for an escalated request (local | power | creative | vision); private cases must stay local whatever their task.
Fake secrets and personal data are assembled from parts in code, never whole in a file.
"""

from __future__ import annotations

from typing import Any

IMG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAAB"
    "JRU5ErkJggg=="
)
cases: list[dict[str, Any]] = []


def add(kind, expect, *messages):
    cases.append(
        {
            "id": f"d{len(cases):03d}",
            "kind": kind,
            "expect": expect,
            "request": {"model": "max-auto", "messages": list(messages)},
        }
    )


def user(content):
    return {"role": "user", "content": content}


def system(content):
    return {"role": "system", "content": content}


def assistant(content):
    return {"role": "assistant", "content": content}


for t in [
    "hello!",
    "Hi, how are you today?",
    "What's the capital of Canada?",
    "How many minutes are in a day?",
    "Translate 'good night' into Italian.",
    "What does 'ubiquitous' mean?",
    "Thanks!",
    "Convert 5 miles to kilometers.",
    "Who painted the Mona Lisa?",
    "What's 12 squared?",
    "Give me an antonym of 'ancient'.",
    "Is Friday a weekday?",
    "Say something nice.",
    "What's the freezing point of water in Fahrenheit?",
    "Quick: what's the largest ocean?",
    "coucou, tu peux m'aider ?",
    "Which planet is closest to the sun?",
    "Shorten: 'in the event that it rains'.",
    "What's the currency of Japan?",
    "how do I spell 'rhythm'?",
]:
    add("simple", "local", user(t))

for t in [
    "Write a Python function that merges overlapping intervals, with tests.",
    "My Go service leaks goroutines under load; how do I find and fix the leak?",
    "Explain how B+ trees keep range scans fast in databases, with an example of a page split.",
    "Refactor this into a class with dependency injection:\n"
    "```python\ndef run():\n    db = connect()\n    for r in db.rows(): send(r)\n```",
    "Compare Kafka and RabbitMQ for an event-driven system with exactly-once needs.",
    "Why does `git rebase` rewrite commit hashes? Walk through what happens internally.",
    "Implement a trie in Java that supports prefix search and deletion.",
    "My pandas groupby is slow on 50M rows. What are the faster options and why?",
    "Write a GitHub Actions workflow that tests a Python package on three versions and caches pip.",
    "Explain the difference between processes and threads in Linux, including how clone() is used.",
    "Derive the closed form of the sum of the first n squares and prove it by induction.",
    "What causes a 'connection reset by peer' error in a Node.js HTTP client under high concurrency?",
    "Research summary: what are the main approaches to retrieval-augmented generation and their trade-offs?",
    "Design the database schema for a multi-tenant invoicing SaaS, with indexes.",
    "Debug: my Python asyncio program hangs at `await queue.get()` after the producer finishes.",
    "Write a SQL query that finds the top 3 products by revenue per month.",
    "Analyze the time and space complexity of merge sort versus heap sort.",
    "Explain how garbage collection works in the JVM, including G1 regions.",
]:
    add("technical", "power", user(t))

for t in [
    "Write a short poem about autumn rain on a tin roof.",
    "Write a bedtime story about a brave little robot.",
    "Brainstorm 10 names for a hiking club.",
    "Draft an inspiring keynote opening for a climate conference.",
    "Write an essay on why boredom is good for creativity.",
    "Create a strategic plan for launching a neighborhood bakery.",
    "Write a scene where two old friends meet after twenty years.",
    "Give me creative ideas for a surprise birthday party on a budget.",
    "Write a persuasive speech about four-day work weeks.",
    "Invent a board game about space pirates and describe its rules and theme.",
    "Write the lyrics for a lullaby about the sea.",
    "Design an approach for rebranding a family hardware store for younger customers.",
]:
    add("creative", "creative", user(t))

for t in ["What is in this image?", "Describe what the people are doing.", "What activity is shown here?"]:
    add("image", "vision", user([{"type": "text", "text": t}, {"type": "image_url", "image_url": {"url": IMG}}]))

aws = "AKIA" + "ZXCVBNMASDFGHJKL"
github_token = "ghp_" + "Q1w2E3r4T5y6U7i8O9p0AsDfGhJkLzXcVbNm"
add(
    "secret-aws",
    "local",
    user(f"Write a script to list S3 buckets with key id {aws} and secret Zxcv1234Asdf5678Qwer9012Tyui3456Ghjk7890"),
)
add(
    "secret-github",
    "local",
    user(f"Debug why `curl -H 'Authorization: token {github_token}' https://api.github.com/user` returns 401."),
)
add(
    "secret-password",
    "local",
    user("Refactor my config loader; the file has db_password = 'S3cr3t!Passw0rd' and admin_pass: 'letmein2024!'"),
)
add(
    "secret-earlier",
    "local",
    user(f"my token is {github_token}"),
    assistant("Got it."),
    user("Now write a full CI pipeline that publishes releases."),
)
add("pii-ssn", "local", user("Write a cover letter for Jane Roe, SSN 219-09-9999, applying for a bank teller job."))
add("pii-card", "local", user("Why is the card 4111 1111 1111 1111 declined in my Stripe test? Write a retry handler."))
add(
    "pii-phone-email",
    "local",
    user("Brainstorm a follow-up plan for customer Olga Ivanova, olga.ivanova@example.org, +44 20 7946 0958."),
)
add(
    "private-marker",
    "local",
    user("Private, keep it on this machine: analyze deeply my company's salary spreadsheet structure."),
)

add("trap-word", "power", user("Write code for a chatbot backend in FastAPI with websocket streaming and tests."))
add("trap-word", "power", user("Analyze why my 'simple' linked list reversal in C crashes on a single node."))
add("trap-word", "local", user("What's a haiku, in one sentence?"))
add(
    "trap-example", "power", user("Write a function that validates emails like user@example.com and explain the regex.")
)
