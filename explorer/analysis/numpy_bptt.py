"""A vanilla RNN from first principles: forward pass and hand-derived BPTT in NumPy, nothing else.

The same model as torch.nn.RNN (tanh) with a linear readout, one sequence at a time:

    a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh,   h_t = tanh(a_t),   z_t = V h_t + c,   p_t = softmax(z_t)

and the loss ℓ_t = -log p_t[y] on the last row only (weight 1 at t = T) or on every row (weight 1/T each).
Backward, per loss term: ∂ℓ/∂z_t = p_t - onehot(y); δ_t = ∂ℓ/∂a_t = (1 - h_t²) ⊙ Vᵀ ∂ℓ/∂z_t, then going back one
row at a time δ_{s-1} = (1 - h_{s-1}²) ⊙ W_hhᵀ δ_s, each δ_s adding δ_s x_sᵀ to ∂/∂W_ih, δ_s h_{s-1}ᵀ to
∂/∂W_hh and δ_s to both biases. With `k`, every loss term goes back at most k rows (as the `bptt` of the
tutorial "Bonjour~RNN循环神经网络" looks back at most 10 steps; TBPTT(1, k) in the app's terms). The Math page
shows `bptt`'s source beside its equations and compares it with autograd on the shipped RNN's weights.
"""

import numpy as np


def forward(x, W_ih, b_ih, W_hh, b_hh):
    """h[0] = 0, then h[t] = tanh(W_ih x_t + b_ih + W_hh h[t-1] + b_hh) for the T rows of x: returns h (T+1, H)."""
    T, H = len(x), len(b_hh)
    h = np.zeros((T + 1, H))
    for t in range(1, T + 1):
        h[t] = np.tanh(W_ih @ x[t - 1] + b_ih + W_hh @ h[t - 1] + b_hh)
    return h


def bptt(x, y, W_ih, b_ih, W_hh, b_hh, V, c, loss_at="last", k=None):
    """The loss and its gradients for one sequence x (T, 28) with label y, by backpropagation through time."""
    T = len(x)
    h = forward(x, W_ih, b_ih, W_hh, b_hh)
    z = h[1:] @ V.T + c  # (T, 10): the readout after every row
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    weight = np.zeros(T)
    weight[-1 if loss_at == "last" else slice(None)] = 1.0 if loss_at == "last" else 1.0 / T
    loss = -np.sum(weight * np.log(p[:, y]))
    g = {name: np.zeros_like(w) for name, w in [("W_ih", W_ih), ("W_hh", W_hh), ("b", b_hh), ("V", V), ("c", c)]}
    for t in range(T, 0, -1):  # every loss term on its own, row t = T .. 1
        if weight[t - 1] == 0:
            continue
        dz = weight[t - 1] * (p[t - 1] - np.eye(len(c))[y])  # ∂ℓ/∂z_t
        g["V"] += np.outer(dz, h[t])
        g["c"] += dz
        delta = (1 - h[t] ** 2) * (V.T @ dz)  # δ_t = ∂ℓ/∂a_t
        for s in range(t, max(0, t - (k or T)), -1):  # back to row t-k+1 at most
            g["W_ih"] += np.outer(delta, x[s - 1])
            g["W_hh"] += np.outer(delta, h[s - 1])
            g["b"] += delta
            delta = (1 - h[s - 1] ** 2) * (W_hh.T @ delta)  # δ_{s-1}
    return loss, g
