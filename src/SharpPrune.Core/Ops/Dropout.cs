namespace SharpPrune.NN;

public static partial class F
{
    /// <summary>Inverted dropout: zeroes with probability p and scales survivors by 1/(1-p); identity when not training.</summary>
    public static Tensor Dropout(Tensor x, float p, bool training, Generator? generator = null)
    {
        if (p < 0 || p > 1) throw new ArgumentOutOfRangeException(nameof(p), $"dropout probability has to be between 0 and 1, but got {p}");
        if (!training || p == 0) return x;
        var gen = generator ?? Generator.Default;
        // The mask is a tensor (not a bare array) so that in training it comes from the storage pool and goes back
        // when the backward releases the graph, like the other activations.
        var maskTensor = Tensor.Empty(x.ShapeCopy());
        var mask = maskTensor.Data;
        float scale = p == 1 ? 0f : 1f / (1f - p);
        for (int i = 0; i < mask.Length; i++) mask[i] = gen.NextDouble() >= p ? scale : 0f;
        var y = Tensor.Empty(x.ShapeCopy());
        System.Numerics.Tensors.TensorPrimitives.Multiply(x.Data, mask, y.Data);
        return Tensor.Record(y, "DropoutBackward", new[] { x }, g =>
        {
            var gx = Tensor.Empty(x.ShapeCopy());
            System.Numerics.Tensors.TensorPrimitives.Multiply(g.Data, maskTensor.Data, gx.Data);
            return new Tensor?[] { gx };
        });
    }
}
