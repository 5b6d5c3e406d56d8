"""Held-out routing cases, written independently of the training prompts and never used to tune the router.

Realistic prompts in the style users actually type. Fake secrets are assembled from parts at import time.
expect: the tier a good router picks (see docs/reference/routing.md).
"""

from __future__ import annotations

from typing import Any

IMG = "data:image/jpeg;base64," + "/9j/4AAQSkZJRgABAQAAAQABAAD" + "A" * 40
REMOTE_IMG = "https://images.example.net/" + "receipt-0042.jpg"

LOCAL = [
    "hey there",
    "good evening! hope your day went well",
    "what year did the berlin wall fall",
    "how tall is mount kilimanjaro?",
    "what's the plural of cactus",
    "translate 'where is the train station' to german",
    "how do you say thank you in japanese?",
    "is a tomato a fruit or a vegetable",
    "what's 15% of 80",
    "what time zone is chicago in?",
    "who wrote pride and prejudice",
    "define photosynthesis in one line",
    "fix the grammar: 'me and him goes to the store yesterday'",
    "make this sentence more polite: send me the file now",
    "what's the boiling point of water at sea level in celsius",
    "how many ounces in a pound",
    "ok thanks, that's all",
    "good morning :)",
    "what's another word for happy?",
    "which is bigger, a kilobyte or a megabyte?",
    "what does RSVP stand for",
    "when is the summer solstice",
    "rephrase 'we regret to inform you' in a friendlier way",
    "bonjour, ça va ?",
    "how many legs does a spider have",
    "what's the square root of 144",
    "what language do they speak in brazil",
    "can you tell me a fun fact?",
    "how far is the moon from earth",
    "what is the chemical symbol for gold",
]

POWER = [
    "my react component re-renders like crazy whenever the parent state changes, how do i stop that",
    "write a bash script that backs up /var/www to s3 every night and keeps the last 7 copies",
    "why is my docker container exiting immediately with code 137",
    "can you review this function and tell me what's wrong?\n```js\n"
    "function sum(a){ let t; for (x of a) t += x; return t }\n```",
    "how should I shard a postgres table with 2 billion rows, and what breaks when I do",
    "implement LRU cache in python with O(1) get and put",
    "rust borrow checker complains 'cannot borrow as mutable more than once' inside my loop, what's the idiomatic fix",
    "what's the difference between TCP and UDP congestion handling, in depth",
    "prove that the square root of 2 is irrational",
    "convert this callback-based node code to async/await and add error handling",
    "explain how raft leader election works and what happens during a network partition",
    "give me a kubernetes deployment + service yaml for a flask app with health checks and 3 replicas",
    "my terraform plan wants to destroy and recreate the RDS instance every time, why?",
    "compare gRPC vs REST for internal microservices: latency, tooling, versioning",
    "write unit tests with pytest for a function that parses ISO 8601 durations",
    "what's the time complexity of building a heap from an unsorted array and why is it O(n)?",
    "segfault in my C program when freeing a linked list, here's the loop: while(p){free(p); p=p->next;}",
    "summarize the current research on mixture-of-experts models and the main trade-offs vs dense models",
    "how do I profile a slow django endpoint that makes too many SQL queries",
    "write a regular expression that matches IPv4 addresses and rejects 256.1.1.1",
    "solve the recurrence T(n) = 2T(n/2) + n log n",
    "typescript: how do I type a function that takes an object and returns the same keys with values wrapped in "
    "Promise",
    "my CUDA kernel is slower than the CPU version, what are the usual causes",
    "design a rate limiter for an API gateway that works across multiple nodes",
    "evaluate the pros and cons of event sourcing for an e-commerce order system",
    "why does floating point 0.1 + 0.2 not equal 0.3? explain the binary representation",
    "optimize this SQL: SELECT * FROM orders WHERE YEAR(created_at) = 2024 AND status <> 'x'",
    "walk me through how HTTPS certificate validation works step by step",
    "the integral of x^2 e^x dx, show the steps",
    "set up a pre-commit config with ruff, mypy and prettier for a monorepo",
]

CREATIVE = [
    "write me a funny poem about my cat who hates mondays",
    "can you come up with a short sci-fi story where the AI is the one who's afraid",
    "i need a toast for my sister's wedding, warm and a little funny",
    "brainstorm podcast names about personal finance for millennials",
    "write song lyrics about leaving your hometown, country style",
    "draft a go-to-market strategy for a b2b note-taking app",
    "write an opinion piece arguing that cities should ban cars downtown",
    "help me write a heartfelt letter to my grandfather for his 90th birthday",
    "give me 15 tagline ideas for an eco-friendly sneaker brand",
    "write the opening chapter of a mystery novel set in a lighthouse",
    "plan a content calendar strategy for a small yoga studio's instagram for the next quarter",
    "create a fantasy world with three kingdoms, their history and their conflicts",
    "write a limerick about a programmer who never sleeps",
    "come up with a pitch for a kids' TV show about dinosaurs who run a bakery",
    "write a monologue for a villain who thinks she's the hero",
    "what are some creative ways to propose to my girlfriend on a hike",
    "draft a product vision document for a smart garden device",
    "write a haiku sequence about the four seasons in tokyo",
    "write a motivational speech for a high school soccer team before the final",
    "brainstorm themes and activities for a company offsite that people will actually enjoy",
    "write a short screenplay scene: two astronauts arguing about who forgot the coffee",
    "develop a growth plan to turn my food truck into a small restaurant chain",
    "write an essay reflecting on what home means when you've moved ten times",
    "design a loyalty program concept for an independent bookstore",
    "write a children's picture book text about a cloud that wants to be rain",
]

VISION_TEXTS = [
    "what does this sign say?",
    "is this mole something to worry about? it's on my arm",
    "can you read the handwriting in this note",
    "which of these plants is the basil?",
]


def _user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def _request(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"model": "max-auto", "messages": list(messages)}


def private_cases() -> list[tuple[str, dict[str, Any]]]:
    """(kind, request) pairs that must stay local; the tokens are fake but well-formed."""
    slack = "xoxb-" + "2048" + "1357911" + "-" + "9753124680" + "-" + "aBcDeFgHiJkLmNoPqRsTuVwX"
    stripe = "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc"
    anthropic = "sk-" + "ant-api03-" + "Zq8" * 12
    pem = "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA" + "q" * 40 + "\n-----END RSA PRIVATE KEY-----"
    jwt_token = (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
        + "."
        + "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ"
        + "."
        + "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
    )
    pg = "postgres://" + "billing_svc" + ":" + "Tr0ub4dor-x9" + "@db.internal:5432/billing"
    return [
        ("slack", _request(_user(f"refactor this notifier, it posts with token {slack} and retries badly"))),
        (
            "stripe-system",
            _request(
                {"role": "system", "content": f"Use the Stripe key {stripe} for all calls."},
                _user("Write a poem about payments."),
            ),
        ),
        ("anthropic", _request(_user(f"export ANTHROPIC_API_KEY={anthropic}\nwhy does my script still say 401?"))),
        ("pem", _request(_user(f"is this key format right for paramiko?\n{pem}"))),
        ("jwt", _request(_user(f"decode this and explain the claims: {jwt_token}"))),
        ("pg-url", _request(_user(f"design indexes for my schema, connection is {pg}"))),
        ("iban", _request(_user("Draft a polite payment reminder; our IBAN is GB82 WEST 1234 5698 7654 32."))),
        (
            "card-multimodal",
            _request(
                _user([{"type": "text", "text": "write a short story that mentions my visa 4012 8888 8888 1881"}])
            ),
        ),
        ("phone", _request(_user("Brainstorm a birthday message for Marc, his mobile is +33 6 12 34 56 78"))),
        ("email", _request(_user("Write a persuasive email to priya.raman@gmail.com asking for a raise"))),
        ("health", _request(_user("Write a sick-leave note for Thomas Berger, diagnosed with depression last week"))),
        ("marker", _request(_user("Confidential: analyze our Q3 layoffs plan and compare scenarios"))),
        ("keep-local", _request(_user("Please keep this local - design a database schema for our patient intake"))),
        ("passport", _request(_user("fill a travel form template for me, passport number K4821937"))),
        (
            "earlier-turn",
            _request(
                _user(f"here is my config: stripe_key = '{stripe}'"),
                {"role": "assistant", "content": "Thanks."},
                _user("Now write a strategic plan for our launch."),
            ),
        ),
        (
            "remote-image-secret",
            _request(
                _user(
                    [
                        {"type": "text", "text": f"my api_key: {stripe}, what is in this picture?"},
                        {"type": "image_url", "image_url": {"url": REMOTE_IMG}},
                    ]
                )
            ),
        ),
    ]


def tier_cases() -> list[tuple[str, dict[str, Any]]]:
    cases = [
        (tier, _request(_user(text)))
        for tier, texts in (("local", LOCAL), ("power", POWER), ("creative", CREATIVE))
        for text in texts
    ]
    for text in VISION_TEXTS:
        cases.append(
            (
                "vision",
                _request(_user([{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": IMG}}])),
            )
        )
    cases.append(
        (
            "vision",
            _request(
                _user(
                    [
                        {"type": "text", "text": "what's in this photo?"},
                        {"type": "image_url", "image_url": {"url": REMOTE_IMG}},
                    ]
                )
            ),
        )
    )
    return cases
