"""A post's status from its phase and its targets, as API.md defines it."""

from __future__ import annotations

import pytest

from herald.posts.status import derive_post_status
from herald.status import PostPhase, PostStatus, TargetStatus

P, F, C, S, W, D = (
    TargetStatus.PUBLISHED,
    TargetStatus.FAILED,
    TargetStatus.CANCELLED,
    TargetStatus.SCHEDULED,
    TargetStatus.PUBLISHING,
    TargetStatus.DELETED,
)


@pytest.mark.parametrize(
    ("phase", "targets", "expected"),
    [
        (PostPhase.DRAFT, [TargetStatus.PENDING], PostStatus.DRAFT),
        (PostPhase.ARCHIVED, [P, F], PostStatus.ARCHIVED),
        (PostPhase.SCHEDULED, [S, S], PostStatus.SCHEDULED),
        (PostPhase.QUEUED, [S], PostStatus.QUEUED),
        (PostPhase.SCHEDULED, [W, S], PostStatus.PROCESSING),
        (PostPhase.SCHEDULED, [P, S], PostStatus.PROCESSING),
        (PostPhase.SCHEDULED, [P, P], PostStatus.PUBLISHED),
        (PostPhase.SCHEDULED, [P, F], PostStatus.PARTIAL),
        (PostPhase.SCHEDULED, [F, F], PostStatus.FAILED),
        (PostPhase.SCHEDULED, [C, C], PostStatus.CANCELLED),
        (PostPhase.SCHEDULED, [P, C], PostStatus.PUBLISHED),
        (PostPhase.SCHEDULED, [D, P], PostStatus.PUBLISHED),  # partly deleted: still out there
        (PostPhase.SCHEDULED, [D, D], PostStatus.UNPUBLISHED),
        (PostPhase.SCHEDULED, [D, F], PostStatus.UNPUBLISHED),  # all it published is gone
        (PostPhase.SCHEDULED, [D, C], PostStatus.UNPUBLISHED),
        (PostPhase.SCHEDULED, [D, P, F], PostStatus.PARTIAL),
        (PostPhase.SCHEDULED, [F, C], PostStatus.FAILED),
        (PostPhase.QUEUED, [P, F, C], PostStatus.PARTIAL),
    ],
)
def test_derived_status(
    phase: PostPhase, targets: list[TargetStatus], expected: PostStatus
) -> None:
    assert derive_post_status(phase, targets) == expected


def test_plain_strings_from_the_database_derive_the_same() -> None:
    assert derive_post_status(PostPhase("queued"), [TargetStatus("scheduled")]) == PostStatus.QUEUED
