"""Reading a rating or a choice out of a judge's free text."""

from evalkit.judge.parse import parse_choice, says_tie

DIGITS = ("1", "2", "3", "4", "5")


def test_ratings_in_the_forms_judges_write():
    assert parse_choice("4", DIGITS) == "4"
    assert parse_choice("Rating: 4/5", DIGITS) == "4"
    assert parse_choice("**3** out of 5", DIGITS) == "3"
    assert parse_choice("I give it a 2.", DIGITS) == "2"
    assert parse_choice("10", DIGITS) is None  # not a 1-5 rating
    assert parse_choice("45 stars", DIGITS) is None
    assert parse_choice("I cannot rate this story, sorry.", DIGITS) is None
    assert parse_choice("", DIGITS) is None


def test_choices_between_two_stories():
    assert parse_choice("B", ("A", "B")) == "B"
    assert parse_choice("Story A is better.", ("A", "B")) == "A"
    assert parse_choice("a story is better than none", ("A", "B")) is None  # the article is no answer
    assert says_tie("They are equally good") and not says_tie("A")
