namespace SharpPrune.NN;

public static partial class F
{
    /// <summary>log(softmax(x)) along the last dim of a 2-D (N, C) tensor.</summary>
    public static Tensor LogSoftmax(Tensor x)
    {
        if (x.Dim != 2) throw new ArgumentException($"log_softmax: expected 2-D input (N, C), got {Shapes.Format(x.Shape)}");
        int n = x.Size(0), c = x.Size(1);
        var y = Tensor.Empty(n, c);
        var xd = x.Data; var yd = y.Data;
        for (int i = 0; i < n; i++) LogSoftmaxRow(xd.Slice(i * c, c), yd.Slice(i * c, c));
        return Tensor.Record(y, "LogSoftmaxBackward", new[] { x }, g =>
        {
            // dx = g - softmax * sum(g)
            var gx = Tensor.Empty(n, c);
            var gd = g.Data; var gxd = gx.Data; var yd2 = y.Data;
            for (int i = 0; i < n; i++)
            {
                double s = 0; for (int j = 0; j < c; j++) s += gd[i * c + j];
                for (int j = 0; j < c; j++) gxd[i * c + j] = gd[i * c + j] - MathF.Exp(yd2[i * c + j]) * (float)s;
            }
            return new Tensor?[] { gx };
        });
    }

    private static void LogSoftmaxRow(ReadOnlySpan<float> x, Span<float> y)
    {
        float m = System.Numerics.Tensors.TensorPrimitives.Max(x);
        double s = 0;
        for (int j = 0; j < x.Length; j++) s += Math.Exp(x[j] - m);
        float lse = m + (float)Math.Log(s);
        System.Numerics.Tensors.TensorPrimitives.Subtract(x, lse, y);
    }

    /// <summary>
    /// Mean cross-entropy of logits (N, C) against class indices, with optional label smoothing
    /// (PyTorch's formula: (1-ε)·NLL + ε·mean over classes of −log p).
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, int[] targets, float labelSmoothing = 0f)
    {
        if (logits.Dim != 2) throw new ArgumentException($"cross_entropy: expected logits of shape (N, C), got {Shapes.Format(logits.Shape)}");
        int n = logits.Size(0), c = logits.Size(1);
        if (targets.Length != n) throw new ArgumentException($"cross_entropy: {targets.Length} targets for a batch of {n}");
        if (labelSmoothing < 0 || labelSmoothing > 1) throw new ArgumentOutOfRangeException(nameof(labelSmoothing), $"label_smoothing must be in [0, 1], got {labelSmoothing}");
        for (int i = 0; i < n; i++)
            if ((uint)targets[i] >= (uint)c) throw new ArgumentOutOfRangeException(nameof(targets), $"target {targets[i]} at position {i} is out of bounds for {c} classes");
        var logp = new float[n * c];
        var xd = logits.Data;
        for (int i = 0; i < n; i++) LogSoftmaxRow(xd.Slice(i * c, c), logp.AsSpan(i * c, c));
        double loss = 0;
        float eps = labelSmoothing;
        for (int i = 0; i < n; i++)
        {
            double nll = -logp[i * c + targets[i]];
            double smooth = 0;
            if (eps > 0) { for (int j = 0; j < c; j++) smooth -= logp[i * c + j]; smooth /= c; }
            loss += (1 - eps) * nll + eps * smooth;
        }
        var y = Tensor.Scalar((float)(loss / n));
        return Tensor.Record(y, "NllLossBackward", new[] { logits }, g =>
        {
            float scale = g.Item() / n;
            var gx = Tensor.Empty(n, c); var gxd = gx.Data;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < c; j++)
                {
                    float p = MathF.Exp(logp[i * c + j]);
                    float target = (j == targets[i] ? 1 - eps : 0) + eps / c;
                    gxd[i * c + j] = (p - target) * scale;
                }
            return new Tensor?[] { gx };
        });
    }

    /// <summary>Mean negative log-likelihood of log-probabilities (N, C).</summary>
    public static Tensor NllLoss(Tensor logProbs, int[] targets)
    {
        if (logProbs.Dim != 2) throw new ArgumentException($"nll_loss: expected (N, C), got {Shapes.Format(logProbs.Shape)}");
        int n = logProbs.Size(0), c = logProbs.Size(1);
        if (targets.Length != n) throw new ArgumentException($"nll_loss: {targets.Length} targets for a batch of {n}");
        var d = logProbs.Data; double s = 0;
        for (int i = 0; i < n; i++)
        {
            if ((uint)targets[i] >= (uint)c) throw new ArgumentOutOfRangeException(nameof(targets), $"target {targets[i]} at position {i} is out of bounds for {c} classes");
            s -= d[i * c + targets[i]];
        }
        var y = Tensor.Scalar((float)(s / n));
        return Tensor.Record(y, "NllLossBackward", new[] { logProbs }, g =>
        {
            var gx = Tensor.Zeros(n, c); var gxd = gx.Data; float v = -g.Item() / n;
            for (int i = 0; i < n; i++) gxd[i * c + targets[i]] = v;
            return new Tensor?[] { gx };
        });
    }

    /// <summary>Mean squared error.</summary>
    public static Tensor MseLoss(Tensor input, Tensor target)
    {
        var d = input - target;
        return (d * d).Mean();
    }
}
