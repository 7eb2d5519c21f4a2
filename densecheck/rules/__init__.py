"""All diagnostic rules, one module per code. ``RULES`` maps code -> rule instance."""

from __future__ import annotations

from densecheck.rules.base import Rule
from densecheck.rules.dc001_parse_error import ParseError
from densecheck.rules.dc002_internal_error import InternalError
from densecheck.rules.dc003_over_budget import OverBudget
from densecheck.rules.dc101_spatial_positions import DenseOverSpatialPositions
from densecheck.rules.dc102_channels_first_axis import LinearOnChannelsFirstAxis
from densecheck.rules.dc103_in_features_mismatch import InFeaturesMismatch
from densecheck.rules.dc104_fc_param_budget import FcParameterBudget
from densecheck.rules.dc105_static_trace_disagreement import StaticTraceDisagreement
from densecheck.rules.dc106_trace_failed import TraceFailed
from densecheck.rules.dc107_head_keeps_positions import HeadKeepsPositions
from densecheck.rules.dc900_unused_noqa import UnusedNoqa

ALL_RULES: list[Rule] = [
    ParseError(),
    InternalError(),
    OverBudget(),
    DenseOverSpatialPositions(),
    LinearOnChannelsFirstAxis(),
    InFeaturesMismatch(),
    FcParameterBudget(),
    StaticTraceDisagreement(),
    TraceFailed(),
    HeadKeepsPositions(),
    UnusedNoqa(),
]
RULES: dict[str, Rule] = {r.code: r for r in ALL_RULES}
LAYER_RULES: list[Rule] = [r for r in ALL_RULES if type(r).check is not Rule.check]

__all__ = ["ALL_RULES", "LAYER_RULES", "RULES", "Rule"]
