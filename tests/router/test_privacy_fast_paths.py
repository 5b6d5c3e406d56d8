"""The privacy guard's shortcuts (issue 11's decision latency) find what the full passes find: detect-secrets plugins
behind value-run gates, keyword regexes tried only where a keyword starts and a value that can pass can start, named
assignments read only where such a value can be, command patterns behind their credential part, NINO and NIR looked
for around numeric spans, phone numbers rejected by length before validation, base64 looked for only where a long
token exists. Each shortcut is checked against the pass it replaces."""

from __future__ import annotations

import base64
import random
import re

import phonenumbers
import pytest
from stdnum.fr import nir

from router import markers, personal_data, secret_detect
from router.encoded_views import FIRST_RUN_CHARS, hidden_texts, may_hold_base64
from router.privacy import PrivacyGuard
from router.secret_detect import build_rules, find_secrets
from router.textviews import TextViews
from tests.router.fakes import ask


@pytest.fixture(scope="module")
def guard(config) -> PrivacyGuard:
    return PrivacyGuard(config.privacy)


@pytest.fixture(scope="module")
def rules() -> secret_detect.SecretRules:
    return build_rules({}, [])


# Values of exactly the length each plugin's regex reads (assembled from parts).
_PLUGIN_CASES = [
    ("cos_hmac_secret_access_key = '" + "3f9a" * 12 + "'", "ibm_cos_hmac"),
    ("ibm_cloud_iam_api_key: " + "Qm7Zt2Lp9Xw4" * 3 + "Rk5Vn8Hj", "ibm_cloud_iam"),
    ('aws_secret_access_key = "' + "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYzQ2Kf9Lm3T" + '"', "aws_key_named"),
    ("cloudant_password = '" + "9c4e" * 16 + "'", "cloudant_key"),
    ("softlayer_api_key = " + "a7Kq" * 16, "softlayer_key"),
]


@pytest.mark.parametrize(("text", "detector"), _PLUGIN_CASES)
def test_value_run_gated_plugins_still_fire(rules, text: str, detector: str) -> None:
    assert detector in find_secrets(text, rules)
    # Inside a long prompt too: the gate reads the whole text's tokens.
    assert detector in find_secrets("Please review this config for a cost estimate. " * 60 + text, rules)


def _finditer_matches(region: str) -> list[tuple[str, tuple[int, int], tuple[int, int]]]:
    found = []
    for regex, group in secret_detect._KEYWORD_FIRST:
        found += [(regex.pattern, m.span(), m.span(group)) for m in regex.finditer(region)]
    return sorted(found)


def _starts_matches(region: str) -> list[tuple[str, tuple[int, int], tuple[int, int]]]:
    found = [(m.re.pattern, m.span(), m.span(g)) for m, g in secret_detect._keyword_first_matches(region)]
    return sorted(found)


_FRAGMENTS = [
    "password", "db_pass", "key_passwd", "api_key", "apikey", "secret", "contraseña", "private_key", "pwd", " = ",
    "=", ": ", ":", "==", "!==", "=>", "'", '"', "`", ";", " ", "\n", "]", "[", "x", "_", "abc", "Xy7$kq9Lm",
]  # fmt: skip


def test_keyword_regexes_tried_at_keyword_starts_find_what_finditer_finds() -> None:
    rng = random.Random(11)
    texts = ["api_key: 'x' " * 300, "password = '" * 330, "db_password: 'Tr0ub4dor&3x';", 'key_passwd="a b"']
    texts += ["".join(rng.choice(_FRAGMENTS) for _ in range(rng.randint(3, 30))) for _ in range(3000)]
    for text in texts:
        region = text.lower()
        operators = [op for op in ":=;" if op in region]
        # Regexes whose operator the region lacks find nothing there: skipping them loses no match.
        expected = [m for m in _finditer_matches(region) if m[0][-1] == ";" or ":" in operators or "=" in operators]
        assert _starts_matches(region) == expected, text


_VALUE_FRAGMENTS = [*_FRAGMENTS, "Tr0ub4", "Tr0ub", "ab1-x9", " 'x' ", "\\x0b", "\t", "=>", "!=", "==", "'Tr0ub4'"]


def _keyword_regex_values(region: str) -> list[str]:
    values = [region[m.start(g) : m.end(g)] for m, g in secret_detect._keyword_first_matches(region)]
    return values + [m.group(g) for r, g in secret_detect._QUOTE_FIRST for m in r.finditer(region)]


def _assignment_texts(rng: random.Random, count: int, most_parts: int, pieces: tuple[list[str], ...]) -> list[str]:
    """Texts of 1..most_parts assignments `name op quote value quote sep`; mostly the short (first three) values."""
    names, operators, quotes, values, separators = pieces
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, most_parts)):
            quote = rng.choice(quotes)
            value = rng.choice(values[:3] if rng.random() < 0.8 else values)
            parts.append(rng.choice(names) + rng.choice(operators) + quote + value + quote + rng.choice(separators))
        texts.append("".join(parts))
    return texts


def test_keyword_regexes_skipped_only_where_no_value_can_pass(monkeypatch: pytest.MonkeyPatch, rules) -> None:
    rng = random.Random(23)
    texts = ["api_key: 'x' " * 300, "password = 'Tr0ub4'", "pwd: Tr0ub4", "'Tr0ub4' == password", "secret=>'ab1-x9'"]
    texts += ["".join(rng.choice(_VALUE_FRAGMENTS) for _ in range(rng.randint(3, 24))) for _ in range(3000)]
    # Assignments with values short and long (5, 6 characters), quoted or not, compared or assigned.
    names, operators = ["api_key", "password", "db_pass", "secret", "pwd", "'x'"], [": ", "=", " = ", "=>", "==", ":"]
    quotes, values = ["", "'", '"', "`"], ["x", "ab", "Tr0ub", "Tr0ub4", "ab1-x9", "a b", "x;"]
    texts += _assignment_texts(rng, 3000, 6, (names, operators, quotes, values, [" ", ";", "\n"]))
    skipped_with_values = 0
    for text in texts:
        region = text.lower()
        if secret_detect._PASSABLE_VALUE_START.search(region) is None:
            values = _keyword_regex_values(region)
            assert not any(len(v.strip("\"'`;,.)(")) >= 6 for v in values), text
            skipped_with_values += bool(values)
    assert skipped_with_values > 500
    # The outcome is the one of a guard that reads every region.
    found = [find_secrets(text, rules) for text in texts]
    monkeypatch.setattr(secret_detect, "_PASSABLE_VALUE_START", re.compile(""))
    assert [find_secrets(text, rules) for text in texts] == found


def test_named_assignments_skipped_only_where_no_value_can_pass(monkeypatch: pytest.MonkeyPatch, rules) -> None:
    rng = random.Random(29)
    names = ["pw", "API_TOKEN", "db.password", "privateKeyHex", "auth", "secret", "key_b64"]
    operators, quotes = ["=", ": ", " = ", ":", "\t=\t", "'] = ", "://"], ["", "'", '"', "`"]
    values = ["abc", "Zq9Lw2X", "Zq9Lw2Xe", "x9;y", "Zq9-Lw2,Xe7", "Zq9Lw2Xe7Tp", "u s3r"]
    texts = ["pw=abc " * 570]
    texts += _assignment_texts(rng, 4000, 5, (names, operators, quotes, values, [" ", ",", "\n"]))
    skipped_with_values = 0
    for text in texts:
        lower = text.lower()
        if secret_detect._PASSABLE_NAMED_VALUE.search(lower) is None:
            found = [secret_detect._NAMED_VALUE.match(lower, at) for at in range(len(lower))]
            values_read = [text[m.start(1) : m.end(1)] for m in found if m is not None]
            assert not any(len(v.strip("\"'`;,.)(<>[]{}")) >= 8 for v in values_read), text
            skipped_with_values += bool(values_read)
    assert skipped_with_values > 500
    found = [find_secrets(text, rules) for text in texts]
    assert {"credential_assignment"} in found
    monkeypatch.setattr(secret_detect, "_PASSABLE_NAMED_VALUE", re.compile(""))
    assert [find_secrets(text, rules) for text in texts] == found


def test_keyword_first_regexes_start_with_one_keyword_alternation() -> None:
    assert {op for _, _, op in secret_detect._KEYWORD_FIRST_BY_OPERATOR} == {":", "=", ";"}
    for regex, _, operator in secret_detect._KEYWORD_FIRST_BY_OPERATOR:
        assert regex.pattern.startswith(secret_detect._DS_KEYWORD.pattern + "\\w*")
        assert operator in regex.pattern[len(secret_detect._DS_KEYWORD.pattern) :]


@pytest.mark.parametrize(
    "line",
    [
        "curl -s -u deploy:" + "Tr0ub4dor-3x" + " https://ci.internal/api",
        "curl --user=deploy:" + "Tr0ub4dor-3x" + " https://ci.internal/api",
        "mysql -h db -u root -p" + "Tr0ub4dor3x" + " app",
        "mysqldump --password=" + "Tr0ub4dor3x" + " app > dump.sql",
        "sshpass -p '" + "Tr0ub4dor3x" + "' ssh deploy@host",
        "machine git.internal login deploy password " + "Tr0ub4dor3x",
    ],
)
def test_command_patterns_hold_their_gate_part(guard: PrivacyGuard, line: str) -> None:
    assert "credential_in_command" in guard.scan(ask("run this for me: " + line)).detectors
    matched = [(part, pattern.search(line)) for part, pattern in secret_detect._COMMAND_PASSWORDS]
    part, match = next((p, m) for p, m in matched if m is not None)
    assert part.search(match.group(0)) is not None


def _valid_nir(body: str) -> str:
    compact = body.replace(" ", "")
    return f"{body} {nir.calc_check_digits(compact)}"


@pytest.mark.parametrize(
    "number",
    [
        "AB 12 34 56 C",
        "AB123456C",
        "ZY 98 76 54 D",
        _valid_nir("2 55 08 14 168 025"),
        _valid_nir("1 85 05 2A 123 456"),  # Corsica: the letter splits the numeric span
        _valid_nir("2550814168025"),
    ],
)
def test_unlabelled_nino_and_nir_fire_in_long_texts(guard: PrivacyGuard, number: str) -> None:
    filler = "Summarise the meeting notes and list the open actions. " * 40
    finding = guard.scan(ask(filler + "ref " + number + " (see above) " + filler))
    assert "national_id" in finding.detectors


def test_nino_and_nir_near_spans_find_what_whole_text_passes_find() -> None:
    rng = random.Random(7)
    parts = [
        "AB",
        "ZY",
        "QQ",
        " ",
        "12",
        "34",
        "56",
        "C",
        "D",
        "2A",
        "1",
        "85",
        "05",
        "123",
        "456",
        "78",
        "-",
        ".",
        "x",
    ]
    for _ in range(3000):
        views = TextViews("".join(rng.choice(parts) for _ in range(rng.randint(2, 24))))
        nino = views.max_digits >= 6 and personal_data._NINO.search(views.text) is not None
        assert personal_data._nino(views) == nino, views.text
        whole = {m.span() for m in personal_data._NIR.finditer(views.text)}
        windows = personal_data._nir_windows(views)
        near = {m.span() for start, end in windows for m in personal_data._NIR.finditer(views.text, start, end)}
        assert whole <= near, views.text


@pytest.mark.parametrize("iban", ["DE89 3704 0044 0532 0130 00", "de89370400440532013000", "GB82WEST12345698765432"])
def test_iban_found_behind_its_check_digits_gate(guard: PrivacyGuard, iban: str) -> None:
    filler = "Summarise the meeting notes and list the open actions for 2024-05-01. " * 40
    assert "iban" in guard.scan(ask(filler + "pay to " + iban + " today. " + filler)).detectors


def test_iban_check_digits_gate_passes_wherever_the_iban_pattern_matches() -> None:
    rng = random.Random(5)
    parts = ["DE", "de", "GB", "89", "12", "3704", " ", "WEST", "x", "0", "-", "1a2b", "Ab"]
    for _ in range(3000):
        upper = "".join(rng.choice(parts) for _ in range(rng.randint(2, 20))).upper()
        if personal_data._IBAN.search(upper) is not None:
            assert personal_data._IBAN_CHECK_DIGITS.search(upper) is not None, upper


def test_length_check_never_rejects_a_valid_phone_number() -> None:
    checked = 0
    for region in phonenumbers.SUPPORTED_REGIONS:
        for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None and phonenumbers.is_valid_number(number):
                assert personal_data._valid_length(number), (region, kind)
                checked += 1
    assert checked > 300


def test_a_number_repeated_in_a_table_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    parse = phonenumbers.parse
    monkeypatch.setattr(phonenumbers, "parse", lambda text, region: calls.append(text) or parse(text, region))
    table = "\n".join(f"2022-0{i}-01,150.02,155.28,15678900" for i in range(1, 8))
    assert not personal_data.has_phone_number(table, "US")
    assert calls.count("15678900") == 1


def test_base64_is_looked_for_from_the_first_long_run(guard: PrivacyGuard) -> None:
    # A blob wrapped at exactly FIRST_RUN_CHARS columns: its first line is the shortest token that can start one.
    der = bytes([0x30, 0x82, 0x04, 0xA4, 0x02, 0x01, 0x00, 0x02]) + bytes(range(256)) * 2
    encoded = base64.b64encode(der).decode()
    wrapped = "\n".join(encoded[i : i + FIRST_RUN_CHARS] for i in range(0, len(encoded), FIRST_RUN_CHARS))
    assert hidden_texts(wrapped)[1]
    assert "encoded_private_key" in guard.scan(ask("what is this?\n" + wrapped)).detectors
    assert may_hold_base64(TextViews(wrapped).long_text)
    assert hidden_texts(wrapped, base64=False) == ([], False)  # the gate is what skips the pass
    # Dates, prices and CSV rows make long tokens without a base64 run: no pass.
    assert not may_hold_base64(TextViews("2022-01-01,150.02,155.28,148.50,153.80,15678900").long_text)


def test_marker_and_health_terms_match_as_their_bounded_regexes(config) -> None:
    terms = [t.lower().strip() for t in (*config.privacy.markers, *config.privacy.health_terms) if t.strip()]
    terms += ["ab(?:ab)*", "a ?a"]  # terms that overlap themselves: a match refused at a word's middle is retried
    compiled = markers.compile_terms(terms)
    assert compiled is not None
    rng = random.Random(3)
    fragments = ["under nda", "keep this local", "don't upload", "tumor", "x", "_", "é", " ", "-", "'", "9", "\n"]
    fragments += ["a", "b", "ab", "xab"]
    samples = [term.replace("\\", "").replace("(?:", "").replace(")?", "").replace("?", "") for term in terms]
    texts = ["xa a a", "xab ab", "xunder nda under nda"]
    texts += ["".join(rng.choice(fragments + samples) for _ in range(rng.randint(1, 12))) for _ in range(1500)]
    for text in texts:
        for term in compiled.terms:
            bounded = re.compile(r"\b" + term.pattern.pattern)
            assert [m.span() for m in term.finditer(text)] == [m.span() for m in bounded.finditer(text)], text


def test_sentence_around_a_health_term_is_the_regex_passes_sentence() -> None:
    def by_regex_passes(text: str, start: int, end: int) -> str:
        ends = markers._SENTENCE_END
        left = max((m.end() for m in ends.finditer(text, max(0, start - 300), start)), default=0)
        right = ends.search(text, end, end + 300)
        return text[max(left, start - 300) : right.start() if right else end + 300]

    rng = random.Random(1)
    parts = ["Dr.", " Dr.", "Mr.", "Mrs.", "Prof.", "xDr.", "a", "b c", ". ", "!", "?", "\n", " ", "word ", "3.14"]
    for _ in range(3000):
        text = "".join(rng.choice(parts) for _ in range(rng.randint(1, 150)))
        start = rng.randint(0, len(text))
        end = rng.randint(start, len(text))
        assert markers._sentence_around(text, start, end) == by_regex_passes(text, start, end), (text, start, end)
