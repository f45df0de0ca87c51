"""Which statistic measures drift, and where its verdict flips (docs/monitoring.md, "Drift statistics").

Defaults are Evidently's open-source ones: for a reference of at most
:data:`SMALL_REFERENCE_ROWS` rows, p-values of the two-sample Kolmogorov–Smirnov test
(numeric) and of the chi-square test (categorical), drifted below 0.05; for larger references,
distances, drifted at or above 0.1: the Wasserstein distance divided by the reference's standard
deviation (numeric) and the Jensen–Shannon distance (categorical). The population stability
index is there on request, drifted at or above 0.1.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from cairn.core.errors import InvalidValue

Kind = Literal["numeric", "categorical"]


class Method(enum.StrEnum):
    KS = "ks"
    CHI_SQUARE = "chisquare"
    WASSERSTEIN = "wasserstein"
    JENSEN_SHANNON = "jensenshannon"
    PSI = "psi"


#: Methods whose value is a p-value: drifted when the value is *below* the threshold.
P_VALUE_METHODS = frozenset({Method.KS, Method.CHI_SQUARE})
#: Evidently's default threshold of each method (its ``StatTest.default_threshold``s).
DEFAULT_THRESHOLDS: Mapping[Method, float] = {
    Method.KS: 0.05,
    Method.CHI_SQUARE: 0.05,
    Method.WASSERSTEIN: 0.1,
    Method.JENSEN_SHANNON: 0.1,
    Method.PSI: 0.1,
}
#: What each kind of feature can be measured with: the two that need values on a line (KS,
#: Wasserstein) are for numbers only; the binned ones work on categories and on numeric bins.
METHODS_FOR_KIND: Mapping[Kind, frozenset[Method]] = {
    "numeric": frozenset(Method),
    "categorical": frozenset({Method.CHI_SQUARE, Method.JENSEN_SHANNON, Method.PSI}),
}
#: At most this many reference rows: p-value tests; more: distances (Evidently's 1,000).
SMALL_REFERENCE_ROWS = 1000
#: The dataset drifts when at least this share of its compared features drift (Evidently's 0.5).
DRIFT_SHARE = 0.5

_WIRE_KEYS = {"methods", "thresholds", "drift_share", "small_reference_rows"}


def _method(value: Any, what: str) -> Method:
    try:
        return Method(value)
    except ValueError:
        known = ", ".join(m.value for m in Method)
        raise InvalidValue(f"{what}: unknown drift method {value!r} (known: {known})") from None


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidValue(f"{what} must be a finite number, not {value!r}")
    return float(value)


@dataclass(frozen=True)
class DriftSettings:
    """How one window is judged against its reference; checked when made."""

    #: Per feature, the method to use instead of the default for its kind and reference size.
    methods: Mapping[str, Method] = field(default_factory=dict)
    #: Per method, the threshold to use instead of :data:`DEFAULT_THRESHOLDS`.
    thresholds: Mapping[Method, float] = field(default_factory=dict)
    drift_share: float = DRIFT_SHARE
    small_reference_rows: int = SMALL_REFERENCE_ROWS

    def __post_init__(self) -> None:
        # Strings are accepted where a Method is expected ("ks" as well as Method.KS) and kept as
        # Methods; the mappings are copied so that the frozen settings cannot change under us.
        if not isinstance(self.methods, Mapping):
            raise InvalidValue(f"drift methods must be a mapping of feature to method, not {self.methods!r}")
        if not isinstance(self.thresholds, Mapping):
            raise InvalidValue(f"drift thresholds must be a mapping of method to number, not {self.thresholds!r}")
        methods = {}
        for feature, method in self.methods.items():
            if not isinstance(feature, str) or not feature:
                raise InvalidValue(f"a drift method is set for {feature!r}, which is not a feature name")
            methods[feature] = _method(method, f"method of feature {feature!r}")
        thresholds = {}
        for method, threshold in self.thresholds.items():
            key = _method(method, "drift threshold")
            thresholds[key] = _number(threshold, f"the threshold of {key.value}")
        object.__setattr__(self, "methods", methods)
        object.__setattr__(self, "thresholds", thresholds)
        self.check()

    def check(self) -> None:
        """Raise :class:`InvalidValue` unless every setting is of the right type and range."""
        for method, threshold in self.thresholds.items():
            if method in P_VALUE_METHODS and not 0 < threshold < 1:
                raise InvalidValue(f"the threshold of {method.value} is a p-value, between 0 and 1, not {threshold!r}")
            if threshold <= 0:
                raise InvalidValue(f"the threshold of {method.value} must be above 0, not {threshold!r}")
        share = _number(self.drift_share, "drift_share")
        if not 0 < share <= 1:
            raise InvalidValue(f"drift_share is a share of features, above 0 and at most 1, not {share!r}")
        rows = self.small_reference_rows
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            raise InvalidValue(f"small_reference_rows must be a whole number of rows, not {rows!r}")

    def threshold(self, method: Method) -> float:
        return self.thresholds.get(method, DEFAULT_THRESHOLDS[method])

    def method_for(self, feature: str, kind: Kind, reference_rows: int) -> Method:
        """The method for ``feature``: its override, else the default for its kind and the
        reference's size (rows with a value)."""
        if feature in self.methods:
            method = self.methods[feature]
            if method not in METHODS_FOR_KIND[kind]:
                raise InvalidValue(
                    f"feature {feature!r} is {kind}: {method.value} cannot measure it "
                    f"(use {', '.join(sorted(m.value for m in METHODS_FOR_KIND[kind]))})",
                    details={"feature": feature, "method": method.value, "kind": kind},
                )
            return method
        small = reference_rows <= self.small_reference_rows
        if kind == "numeric":
            return Method.KS if small else Method.WASSERSTEIN
        return Method.CHI_SQUARE if small else Method.JENSEN_SHANNON

    def to_wire(self) -> dict[str, Any]:
        return {
            "methods": {feature: method.value for feature, method in self.methods.items()},
            "thresholds": {method.value: threshold for method, threshold in self.thresholds.items()},
            "drift_share": self.drift_share,
            "small_reference_rows": self.small_reference_rows,
        }

    @classmethod
    def from_wire(cls, wire: Any) -> DriftSettings:
        """Settings from their JSON form; missing keys take their defaults, unknown ones are refused."""
        if not isinstance(wire, Mapping):
            raise InvalidValue(f"drift settings must be an object, not {type(wire).__name__}")
        unknown = set(wire) - _WIRE_KEYS
        if unknown:
            raise InvalidValue(f"unknown drift settings: {', '.join(sorted(map(str, unknown)))}")
        return cls(
            methods=wire.get("methods") or {},
            thresholds=wire.get("thresholds") or {},
            drift_share=wire.get("drift_share", DRIFT_SHARE),
            small_reference_rows=wire.get("small_reference_rows", SMALL_REFERENCE_ROWS),
        )
