"""The bimodal multitask policy network of the paper (Sec. III, Fig. 3) and its loss (eq. 5).

Shapes: B batch, T history steps, L text tokens, D = ``d_model``.

* proprio history (B, T, 2) normalised ``(q, qd)`` -> linear -> (B, T, D) -> causal dilated
  1-D convolutions (residual blocks) -> ``f_prop`` (B, T, D);
* text tokens (B, L) -> embedding -> GRU -> linear -> ``z_text`` (B, L, D);
* multi-head cross-attention, ``f_prop`` as queries, ``z_text`` as keys/values (padding
  tokens masked) -> fused (B, T, D);
* last time step (B, D) -> linear head -> normalised q_d offset from the current exo angle
  (B,) (see :class:`~exo_policy.processing.Normalizer`), and a deeper MLP ->
  softplus -> K in units of the normaliser's ``k_scale`` (B,), always > 0.

The forward pass has no data-dependent Python control flow, so it exports to ONNX;
:class:`PhysicalPolicy` folds the normalisation in for export (physical units in and out).
"""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn
import torch.nn.functional as F  # noqa: N812

from exo_policy.configuration import PolicyConfig
from exo_policy.processing import Normalizer, PAD_ID

MASK_VALUE = -1e4


class CausalConvBlock(nn.Module):
    """Residual block: causal dilated Conv1d -> GELU, plus a skip; LayerNorm on the output.

    Output step t depends only on input steps <= t (left padding only).
    """

    def __init__(self, channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.left_pad = (kernel - 1) * dilation
        self.conv = nn.Conv1d(channels, channels, kernel, dilation=dilation)
        self.norm = nn.LayerNorm(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, D)."""
        y = self.conv(F.pad(x.transpose(1, 2), (self.left_pad, 0)))
        return self.norm(x + F.gelu(y).transpose(1, 2))


class CrossAttention(nn.Module):
    """Multi-head attention of queries (B, T, D) over keys/values (B, L, D).

    Padding keys get an additive ``MASK_VALUE`` (not -inf), so even an all-padding sequence
    gives finite weights.
    """

    def __init__(self, d_model: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = d_model // heads
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, query: torch.Tensor, memory: torch.Tensor,
                key_padding_mask: torch.Tensor) -> torch.Tensor:
        """Attend.

        Args:
            query: (B, T, D).
            memory: (B, L, D) keys and values.
            key_padding_mask: (B, L) bool, True where the key is padding.

        Returns:
            (B, T, D).

        """
        b, t, d = query.shape
        ell = memory.shape[1]
        q = self.q_proj(query).reshape(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(memory).reshape(b, ell, self.heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(memory).reshape(b, ell, self.heads, self.head_dim).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_dim)  # (B,H,T,L)
        bias = key_padding_mask.to(scores.dtype)[:, None, None, :] * MASK_VALUE
        weights = torch.softmax(scores + bias, dim=-1)
        out = torch.matmul(weights, v).transpose(1, 2).reshape(b, t, d)
        return self.out_proj(out)


class ExoPolicy(nn.Module):
    """Bimodal policy: (history, tokens) -> (normalised q_d, K / k_scale).

    Args:
        config: architecture.
        vocab_size: number of token ids (padding id 0).
        k_init: initial stiffness output (units of k_scale, > 0), e.g. ``k_mean / k_scale``:
            sets the last bias of the stiffness head so training starts near the mean.

    """

    def __init__(self, config: PolicyConfig, vocab_size: int, k_init: float = 1.0) -> None:
        super().__init__()
        d = config.d_model
        self.config = config
        self.in_proj = nn.Linear(2, d)
        self.convs = nn.ModuleList(
            CausalConvBlock(d, config.conv_kernel, dil) for dil in config.conv_dilations)
        self.embedding = nn.Embedding(vocab_size, config.embed_dim, padding_idx=PAD_ID)
        self.gru = nn.GRU(config.embed_dim, config.gru_hidden, batch_first=True)
        self.text_proj = nn.Linear(config.gru_hidden, d)
        self.attention = CrossAttention(d, config.attention_heads)
        self.fusion_norm = nn.LayerNorm(d)
        self.dropout = nn.Dropout(config.dropout)
        self.q_head = nn.Linear(d, 1)
        layers: list[nn.Module] = []
        width = d
        for _ in range(config.stiffness_mlp_layers):
            layers += [nn.Linear(width, config.stiffness_mlp_hidden), nn.GELU()]
            width = config.stiffness_mlp_hidden
        last = nn.Linear(width, 1)
        with torch.no_grad():
            k0 = max(float(k_init), 1e-3)
            last.bias.fill_(k0 + math.log(-math.expm1(-k0)))  # softplus^-1(k0)
        layers.append(last)
        self.k_head = nn.Sequential(*layers)

    def encode_proprio(self, history: torch.Tensor) -> torch.Tensor:
        """(B, T, 2) normalised history -> f_prop (B, T, D), causal in T."""
        x = self.in_proj(history)
        for block in self.convs:
            x = block(x)
        return x

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, L) int64 token ids -> z_text (B, L, D)."""
        z, _ = self.gru(self.embedding(tokens))
        return self.text_proj(z)

    def forward(self, history: torch.Tensor,
                tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predict.

        Args:
            history: (B, T, 2) float32, normalised ``(q, qd)``, oldest first.
            tokens: (B, L) int64 token ids, right-padded with 0.

        Returns:
            q_norm (B,): normalised offset q_d - q(t); k_norm (B,): stiffness / k_scale, > 0.

        """
        f_prop = self.encode_proprio(history)
        z_text = self.encode_text(tokens)
        fused = self.fusion_norm(
            f_prop + self.dropout(self.attention(f_prop, z_text, tokens == PAD_ID)))
        last = fused[:, -1, :]
        q_norm = self.q_head(last).squeeze(-1)
        k_norm = F.softplus(self.k_head(last).squeeze(-1)) + 1e-4
        return q_norm, k_norm


def policy_loss(q_norm: torch.Tensor, k_norm: torch.Tensor, q_target: torch.Tensor,
                k_target: torch.Tensor, w1: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 5 in normalised units: ``mean |q_hat - q|^2 + w1 mean |K_hat - K|^2``.

    Args:
        q_norm: predicted normalised angle target (B,).
        k_norm: predicted stiffness / k_scale (B,).
        q_target: normalised angle target (B,).
        k_target: stiffness target / k_scale (B,).
        w1: weight of the stiffness term.

    Returns:
        The scalar loss and its two terms as floats (``loss_q``, ``loss_k``).

    """
    loss_q = torch.mean((q_norm - q_target) ** 2)
    loss_k = torch.mean((k_norm - k_target) ** 2)
    return loss_q + w1 * loss_k, {'loss_q': float(loss_q.detach()),
                                  'loss_k': float(loss_k.detach())}


class PhysicalPolicy(nn.Module):
    """Export wrapper: physical history (rad, rad/s) in, q_d (rad) and K (N*m/rad) out.

    Args:
        policy: trained network.
        normalizer: the checkpoint's statistics, folded into the graph as constants.

    """

    def __init__(self, policy: ExoPolicy, normalizer: Normalizer) -> None:
        super().__init__()
        self.policy = policy
        n = normalizer
        self.register_buffer('in_mean', torch.tensor([n.q_mean, n.qd_mean], dtype=torch.float32))
        self.register_buffer('in_std', torch.tensor([n.q_std, n.qd_std], dtype=torch.float32))
        self.dq_mean = float(n.dq_mean)
        self.dq_std = float(n.dq_std)
        self.k_scale = float(n.k_scale)

    def forward(self, history: torch.Tensor,
                tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, 2) physical history, (B, L) tokens -> q_d (B,) rad, K (B,) N*m/rad.

        ``q_d = q_exo(t) + dq`` with the offset ``dq`` de-normalised (see Normalizer).
        """
        q_norm, k_norm = self.policy((history - self.in_mean) / self.in_std, tokens)
        q_d = history[:, -1, 0] + q_norm * self.dq_std + self.dq_mean
        return q_d, k_norm * self.k_scale


def export_onnx(policy: ExoPolicy, normalizer: Normalizer, path: str, opset: int = 17) -> None:
    """Export :class:`PhysicalPolicy` to ONNX.

    Inputs ``history`` (1, T, 2) float32 and ``tokens`` (1, L) int64; outputs ``q_d`` (1,)
    rad and ``K`` (1,) N*m/rad; the batch axis is dynamic.
    """
    cfg = policy.config
    wrapper = PhysicalPolicy(policy, normalizer).eval()
    history = torch.zeros(1, cfg.history_steps, 2)
    tokens = torch.ones(1, cfg.max_text_tokens, dtype=torch.int64)
    with torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter warns about GRU batch sizes and constant folding of
        # slices; both are covered by the ONNX-vs-torch tests.
        warnings.simplefilter('ignore')
        torch.onnx.export(wrapper, (history, tokens), path, input_names=['history', 'tokens'],
                          output_names=['q_d', 'K'], opset_version=opset, dynamo=False,
                          dynamic_axes={'history': {0: 'batch'}, 'tokens': {0: 'batch'},
                                        'q_d': {0: 'batch'}, 'K': {0: 'batch'}})
