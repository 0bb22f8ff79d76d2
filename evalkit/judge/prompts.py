"""The judge's messages: a system line, then the rubric and the story (or two stories) as the user turn.

The answer is asked for as a single character right at the start, so the next-token distribution
after the prompt is the judge's rating (G-Eval reads its probabilities there)."""

from __future__ import annotations

from dataclasses import dataclass

from evalkit.judge.rubric import Rubric

SYSTEM = ("You are a careful judge of stories written for children aged 6 to 10. "
          "You answer with exactly one character and nothing else.")
MAX_STORY_CHARS = 6000  # a looping model's 50 kB story must not blow the judge's context
RATING_CHOICES = ("1", "2", "3", "4", "5")
PAIR_CHOICES = ("A", "B")


@dataclass(frozen=True)
class JudgePrompt:
    """One question to the judge: ``choices`` are the answers read from its output."""

    system: str
    user: str
    choices: tuple[str, ...]

    @property
    def plain(self) -> str:
        """The prompt for a model without a chat template."""
        return f"{self.system}\n\n{self.user}\n\nAnswer:"


def _clip(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_STORY_CHARS else text[:MAX_STORY_CHARS] + " [...]"


def _question(rubric: Rubric, genre: str | None, genre_definition: str | None) -> str:
    return rubric.question.format(genre=genre or "unspecified",
                                  genre_definition=genre_definition or "no definition given").strip()


def rating_prompt(rubric: Rubric, story: str, prompt: str = "", genre: str | None = None,
                  genre_definition: str | None = None) -> JudgePrompt:
    scale = "\n".join(rubric.scale)
    task = f"The story was written for this request: {prompt.strip()}\n\n" if prompt.strip() else ""
    user = (f"Criterion: {rubric.title}\n{_question(rubric, genre, genre_definition)}\n\nRatings:\n{scale}\n\n"
            f"{task}Story:\n<<<\n{_clip(story)}\n>>>\n\n"
            f"Rate the story's {rubric.title} from 1 to 5. Answer with the digit only.")
    return JudgePrompt(SYSTEM, user, RATING_CHOICES)


def pairwise_prompt(rubric: Rubric, first: str, second: str, prompt: str = "", genre: str | None = None,
                    genre_definition: str | None = None) -> JudgePrompt:
    task = f"Both stories were written for this request: {prompt.strip()}\n\n" if prompt.strip() else ""
    user = (f"Criterion: {rubric.title}\n{_question(rubric, genre, genre_definition)}\n\n{task}"
            f"Story A:\n<<<\n{_clip(first)}\n>>>\n\nStory B:\n<<<\n{_clip(second)}\n>>>\n\n"
            f"Which story is better on {rubric.title}? Answer with the letter A or B only.")
    return JudgePrompt(SYSTEM, user, PAIR_CHOICES)
