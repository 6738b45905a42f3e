"""Every reference source resolves text through one TaskResolver and shares the fallback."""

import math

import pytest

from exo_contract.tasks import TASKS_BY_ID
from exo_language.resolver import TaskResolver
from exo_policy import reference_source
from exo_policy.baselines import ConstantAssistReferenceSource, GravityShareReferenceSource
from exo_policy.oracle import OracleReferenceSource
from exo_policy.promp import ProMPReferenceSource
from exo_policy.reference_source import (
    ImpedanceTarget,
    ReferenceSource,
    ReferenceSourceBase,
    SOURCE_FALLBACK,
)
from exo_policy.runtime import LearnedReferenceSource
from exo_policy.sources import make_source, SOURCE_MODES

PARAPHRASE = 'please lift the heavy box up'  # no exact match: the resolver decides
UNKNOWN = ('do a backflip', '', 'lift', 'x' * 10000, None)


@pytest.fixture(scope='module')
def resolver():
    return TaskResolver('lexical')


@pytest.fixture(scope='module', params=SOURCE_MODES)
def source(request, resolver):
    return make_source(request.param, resolver=resolver, compliant_stiffness=3.0)


def test_every_mode_derives_from_the_base_with_the_injected_resolver(source, resolver):
    assert isinstance(source, ReferenceSourceBase)
    assert isinstance(source, (OracleReferenceSource, ProMPReferenceSource,
                               LearnedReferenceSource, GravityShareReferenceSource,
                               ConstantAssistReferenceSource))
    assert source.resolver is resolver
    ref: ReferenceSource = source
    assert ref is source


def test_a_paraphrase_means_the_same_task_in_every_mode(source):
    task = source.set_task_text(PARAPHRASE, 1.0)
    assert task is TASKS_BY_ID['lift_heavy'] and source.task is task
    target = source.reference(1.01, 0.4, 0.0)
    assert target.task_id == 'lift_heavy' and target.source != SOURCE_FALLBACK
    assert 0.5 < target.confidence < 1.0  # the resolver's similarity, not an exact match
    assert math.isfinite(target.reference_angle) and target.stiffness > 0


@pytest.mark.parametrize('text', UNKNOWN)
def test_unknown_text_is_refused_in_every_mode(source, text):
    source.set_task_text('wave hello', 0.0)
    assert source.set_task_text(text, 1.0) is None and source.task is None
    target = source.reference(1.5, 0.7, 0.0)
    assert target == ImpedanceTarget(0.7, 0.0, 3.0, '', 0.0, SOURCE_FALLBACK)


def test_before_any_text_the_fallback_holds_the_angle(resolver):
    source = make_source('oracle', resolver=resolver, compliant_stiffness=3.0)
    assert source.reference(0.0, 0.25) == ImpedanceTarget(0.25, 0.0, 3.0, '', 0.0,
                                                          SOURCE_FALLBACK)


def test_the_default_resolver_is_shared(monkeypatch, resolver):
    monkeypatch.setattr(reference_source, 'default_resolver', lambda: resolver)
    assert OracleReferenceSource().resolver is resolver
    assert ProMPReferenceSource().resolver is resolver


def test_a_failing_resolver_refuses():
    class Broken:
        def resolve(self, text):
            raise RuntimeError('boom')

    source = OracleReferenceSource(resolver=Broken())
    assert source.set_task_text('wave hello', 0.0) is None
    assert source.reference(0.1, 0.3).source == SOURCE_FALLBACK


def test_base_validates_and_leaves_reference_abstract(resolver):
    with pytest.raises(ValueError, match='compliant_stiffness'):
        ReferenceSourceBase(resolver, compliant_stiffness=math.nan)
    base = ReferenceSourceBase(resolver)
    assert base.fallback(math.nan).reference_angle != base.fallback(math.nan).reference_angle
    assert base.fallback(math.nan, 0.3).reference_angle == 0.3
    with pytest.raises(NotImplementedError):
        base.reference(0.0, 0.0)
