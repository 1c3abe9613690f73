"""Link codes (codes.py): base62, ascending by link number, the rest random."""

import itertools
import random

import pytest
from django.db import connection

from engagement import codes
from engagement.codes import BLOCK, CODE_LENGTH, NUMBERS, PREFIX, is_code, new_codes, prefix
from engagement.tracking import MessageLinks, link_numbers

ALPHABET = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def test_random_codes_are_base62_of_the_length_and_distinct():
    made = new_codes(5000)
    assert len(set(made)) == 5000
    assert all(len(code) == CODE_LENGTH and is_code(code) for code in made)
    assert set("".join(made)) == ALPHABET


def test_numbered_codes_start_with_their_number_and_the_rest_is_random():
    made = new_codes(5000, first=10_000)
    assert len(set(made)) == 5000
    assert all(is_code(code) for code in made)
    assert [code[:PREFIX] for code in made] == [prefix(n) for n in range(10_000, 15_000)]
    assert made == sorted(made)  # byte order, as the code column compares them
    assert set("".join(code[PREFIX:] for code in made)) == ALPHABET
    # The secret part does not follow the number: two runs from the same number differ.
    assert not set(new_codes(100, first=10_000)) & set(made[:100])


def test_prefixes_sort_as_their_numbers_and_wrap():
    numbers = sorted(random.Random(7).sample(range(NUMBERS), 2000)) + [0, 61, 62, NUMBERS - 1]
    assert sorted(prefix(n) for n in numbers) == [prefix(n) for n in sorted(numbers)]
    assert (prefix(0), prefix(61), prefix(62), prefix(NUMBERS - 1)) == (
        "0000",
        "000z",
        "0010",
        "zzzz",
    )
    assert prefix(NUMBERS + 5) == prefix(5)
    assert new_codes(2, first=NUMBERS - 1)[1][:PREFIX] == "0000"


@pytest.mark.django_db
def test_a_message_links_codes_ascend_a_block_at_a_time(monkeypatch):
    monkeypatch.setattr("engagement.tracking.BLOCK", 3)
    links = MessageLinks(body="https://a.example/x https://b.example/y")
    made = [code for _ in range(4) for code, _ in links.fill({})]
    assert len(set(made)) == 8 and all(is_code(code) for code in made)
    blocks = [made[0:3], made[3:6], made[6:8]]
    for block in blocks:
        assert block == sorted(block)
        assert [code[:PREFIX] for code in block] == [
            prefix(n) for n in range(_number(block[0]), _number(block[0]) + len(block))
        ]


def _number(code: str) -> int:
    number = 0
    for char in code[:PREFIX]:
        number = number * 62 + codes.ALPHABET.index(char)
    return number


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="the sequence is PostgreSQL's")
def test_blocks_of_link_numbers_never_overlap():
    firsts = [*link_numbers(), *link_numbers(3), *link_numbers()]
    assert len(firsts) == 5 and all(first % BLOCK == 0 for first in firsts)
    assert all(later - earlier >= BLOCK for earlier, later in itertools.pairwise(firsts))
