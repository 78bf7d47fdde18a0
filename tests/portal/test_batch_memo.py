"""Configuration answers kept for one batch of work, and only inside it."""

from portal.batch_memo import batch_scope, memoized


def counter():
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    return calls, compute


def test_outside_a_batch_every_call_computes():
    _calls, compute = counter()
    assert [memoized("key", compute) for _ in range(3)] == [1, 2, 3]


def test_inside_a_batch_the_first_answer_is_kept_per_key():
    calls, compute = counter()
    with batch_scope():
        assert memoized("a", compute) == 1
        assert memoized("a", compute) == 1
        assert memoized("b", compute) == 2  # another question
        with batch_scope():  # a nested scope shares the batch's answers
            assert memoized("a", compute) == 1
    assert len(calls) == 2


def test_a_new_batch_asks_again():
    _calls, compute = counter()
    with batch_scope():
        memoized("a", compute)
    with batch_scope():
        assert memoized("a", compute) == 2
    assert memoized("a", compute) == 3
