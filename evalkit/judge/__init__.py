"""A model as judge: rubric ratings in the G-Eval style and pairwise preference between two models.

- rubric.py: the criteria as data (one TOML per criterion, overridable per suite)
- prompts.py: the judge's chat messages for a rating or a pairwise comparison
- parse.py: reading a rating or a preference out of free text
- expected.py: the G-Eval expected rating from a probability distribution over "1".."5"
- engines.py: how each backend yields those probabilities (hf logits, server logprobs, llama.cpp),
  or the mean of sampled answers where it cannot; http.py is the small logprobs client
- cache.py: judge calls cached per judge fingerprint, appended per batch (resumable after kill -9)
- judge.py: ``configure_judge`` and the Judge that ties them together
- pairwise.py: preference in both orders, win rate with a bootstrap interval, consistency report
"""
