"""The order reader's network: a small transformer encoder over a story's frozen MiniLM sentence
embeddings (one vector per sentence, learned positions), read out as one number: how well the
sentences hold together in this order (higher = more like an original story than a corrupted copy).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

EMBED_DIM = 384  # MiniLM-L6 sentence embeddings


@dataclass(frozen=True)
class HeadConfig:
    d_model: int = 192
    layers: int = 2
    heads: int = 4
    ff: int = 384
    max_sentences: int = 12  # longer stories are read in windows of this many sentences
    dropout: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)


def build_head(cfg: HeadConfig):
    """The torch module: (batch, sentences, EMBED_DIM) embeddings and a padding mask -> (batch,) scores."""
    import torch
    from torch import nn

    class OrderHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(EMBED_DIM, cfg.d_model)
            self.pos = nn.Embedding(cfg.max_sentences + 1, cfg.d_model)  # 0: the read-out token
            self.cls = nn.Parameter(torch.zeros(1, 1, cfg.d_model))
            layer = nn.TransformerEncoderLayer(cfg.d_model, cfg.heads, cfg.ff, cfg.dropout,
                                               batch_first=True, norm_first=True)
            self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(cfg.d_model)
            self.out = nn.Linear(cfg.d_model, 1)

        def forward(self, emb, pad):  # pad: True where there is no sentence
            b, n, _ = emb.shape
            x = torch.cat([self.cls.expand(b, 1, -1), self.proj(emb)], dim=1)
            x = x + self.pos(torch.arange(n + 1, device=emb.device))[None]
            pad = torch.cat([torch.zeros(b, 1, dtype=torch.bool, device=emb.device), pad], dim=1)
            h = self.encoder(x, src_key_padding_mask=pad)
            return self.out(self.norm(h[:, 0])).squeeze(-1)

    return OrderHead()


def batch(seqs, max_sentences: int):
    """Pad a list of (n_i, EMBED_DIM) arrays (n_i <= max_sentences) into tensors (emb, pad mask)."""
    import numpy as np
    import torch

    n = max(len(s) for s in seqs)
    assert n <= max_sentences
    emb = np.zeros((len(seqs), n, EMBED_DIM), dtype=np.float32)
    pad = np.ones((len(seqs), n), dtype=bool)
    for i, s in enumerate(seqs):
        emb[i, : len(s)] = s
        pad[i, : len(s)] = False
    return torch.from_numpy(emb), torch.from_numpy(pad)
