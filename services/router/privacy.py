"""Privacy guard: scans every text of a conversation for secrets, personal data, health details tied to a person
and explicit markers. Reports kinds and detector names only; the matched text is never kept, logged or echoed."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from router.config import PrivacyConfig
from router.encoded_views import hidden_texts, may_hold_base64
from router.markers import compile_health, compile_markers, has_health_detail_about_person, has_marker
from router.personal_data import PersonalRules, find_personal_data
from router.request import all_texts
from router.secret_detect import build_rules, find_secrets
from router.textviews import TextViews

_CACHE_SIZE = 4096
# Decoded texts are scanned again, themselves decoded once more (a service-account JSON in base64 holds a PEM
# with JSON escapes): two levels, each bounded by router.encoded_views.
_DECODE_DEPTH = 2


@dataclass(frozen=True)
class PrivacyFinding:
    kinds: tuple[str, ...]  # secret | personal_data | health | marker | unscanned
    detectors: tuple[str, ...]  # e.g. github_token, payment_card

    @property
    def hit(self) -> bool:
        return bool(self.kinds)


NO_FINDING = PrivacyFinding((), ())
# Past privacy.max_scan_chars a request is not scanned: it may hold anything, so it stays on the machine.
TOO_LARGE_TO_SCAN = PrivacyFinding(("unscanned",), ("too_large_to_scan",))


class PrivacyGuard:
    def __init__(self, config: PrivacyConfig) -> None:
        self._secret_rules = build_rules(config.extra_token_patterns, config.placeholder_values)
        self._personal_rules = PersonalRules(
            config.default_phone_region,
            config.placeholder_email_domains,
            config.placeholder_email_local_parts,
            config.documentation_email_domains,
            config.reserved_email_tlds,
        )
        self._markers = compile_markers(config.markers)
        self._health = compile_health(config.health_terms)
        self._max_scan_chars = config.max_scan_chars
        # Conversations resend earlier turns: remember per-text results, keyed by a digest so that no scanned
        # text (and no secret in it) stays in memory.
        self._cache: OrderedDict[bytes, tuple[tuple[str, str], ...]] = OrderedDict()
        self._cache_lock = threading.Lock()  # large requests are scanned on a worker thread (router.litellm_hook)

    def scan_text(self, text: str) -> tuple[tuple[str, str], ...]:
        """(kind, detector) pairs found in one text."""
        key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        result = self._scan(text, _DECODE_DEPTH)
        with self._cache_lock:
            self._cache[key] = result
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return result

    def _scan(self, text: str, depth: int) -> tuple[tuple[str, str], ...]:
        views = TextViews(text)
        found = [("secret", name) for name in sorted(find_secrets(views, self._secret_rules))]
        found += [("personal_data", name) for name in sorted(find_personal_data(views, self._personal_rules))]
        if has_health_detail_about_person(views, self._health):
            found.append(("health", "health_detail"))
        if has_marker(views, self._markers):
            found.append(("marker", "explicit_marker"))
        if depth:
            decoded, binary_key = hidden_texts(text, base64=may_hold_base64(views.long_text))
            if binary_key:
                found.append(("secret", "encoded_private_key"))
            for hidden in decoded:
                found += [pair for pair in self._scan(hidden, depth - 1) if pair not in found]
        return tuple(found)

    def scan_texts(self, texts: Iterable[str]) -> PrivacyFinding:
        pairs: set[tuple[str, str]] = set()
        for text in texts:
            if text:
                pairs.update(self.scan_text(text))
        if not pairs:
            return NO_FINDING
        return PrivacyFinding(tuple(sorted({k for k, _ in pairs})), tuple(sorted({d for _, d in pairs})))

    def scan(self, request: dict[str, Any]) -> PrivacyFinding:
        texts = list(all_texts(request))
        if sum(len(text) for text in texts) > self._max_scan_chars:
            return TOO_LARGE_TO_SCAN
        return self.scan_texts(texts)
