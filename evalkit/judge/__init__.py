"""A model as judge: rubric ratings in the G-Eval style and pairwise preference between two models.

- rubric.py: the criteria as data (one TOML per criterion, overridable per suite)
- prompts.py: the judge's chat messages for a rating or a pairwise comparison
- parse.py: reading a rating or a preference out of free text
- expected.py: the G-Eval expected rating from a probability distribution over "1".."5"
- engines.py: how each backend yields those probabilities (hf logits, server logprobs, llama.cpp),
  or the mean of sampled answers where it cannot (servers are asked through the openai backend's transport)
- cache.py: judge calls cached per judge fingerprint, appended per batch (resumable after kill -9)
- judge.py: ``configure_judge`` and the Judge that ties them together
- pairwise.py: preference in both orders, win rate with evalkit.stats' bootstrap interval
- consistency.py: order agreement, position bias, agreement with the automatic metrics, self-preference
- run.py: the judge in a run: judge.json (rating adds the "Judge preference" row from it by its row rule)
"""
