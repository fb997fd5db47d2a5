namespace SharpPrune.NN;

/// <summary>Weight initialisers with PyTorch's formulas (torch.nn.init).</summary>
public static class Init
{
    public static (int fanIn, int fanOut) Fans(Tensor t)
    {
        if (t.Dim < 2) throw new ArgumentException($"fan in and fan out can not be computed for tensor with fewer than 2 dimensions (shape {Shapes.Format(t.Shape)})");
        int receptive = 1;
        for (int i = 2; i < t.Dim; i++) receptive *= t.Size(i);
        return (t.Size(1) * receptive, t.Size(0) * receptive);
    }

    public static double Gain(string nonlinearity, double a = 0) => nonlinearity switch
    {
        "linear" or "conv2d" or "sigmoid" => 1.0,
        "tanh" => 5.0 / 3,
        "relu" => Math.Sqrt(2.0),
        "leaky_relu" => Math.Sqrt(2.0 / (1 + a * a)),
        _ => throw new ArgumentException($"unsupported nonlinearity '{nonlinearity}'"),
    };

    public static Tensor Uniform_(Tensor t, float low, float high, Generator? g = null)
    {
        (g ?? Generator.Default).FillUniform(t.Data, low, high); t.MarkChanged(); return t;
    }

    public static Tensor Normal_(Tensor t, float mean, float std, Generator? g = null)
    {
        (g ?? Generator.Default).FillNormal(t.Data, mean, std); t.MarkChanged(); return t;
    }

    /// <summary>kaiming_uniform_: U(−b, b), b = gain·√(3/fan).</summary>
    public static Tensor KaimingUniform_(Tensor t, double a = 0, bool fanIn = true, string nonlinearity = "leaky_relu", Generator? g = null)
    {
        var (fi, fo) = Fans(t);
        double std = Gain(nonlinearity, a) / Math.Sqrt(fanIn ? fi : fo);
        float bound = (float)(Math.Sqrt(3.0) * std);
        return Uniform_(t, -bound, bound, g);
    }

    /// <summary>kaiming_normal_: N(0, gain/√fan).</summary>
    public static Tensor KaimingNormal_(Tensor t, double a = 0, bool fanIn = true, string nonlinearity = "leaky_relu", Generator? g = null)
    {
        var (fi, fo) = Fans(t);
        double std = Gain(nonlinearity, a) / Math.Sqrt(fanIn ? fi : fo);
        return Normal_(t, 0, (float)std, g);
    }

    public static Tensor XavierUniform_(Tensor t, double gain = 1, Generator? g = null)
    {
        var (fi, fo) = Fans(t);
        float bound = (float)(gain * Math.Sqrt(6.0 / (fi + fo)));
        return Uniform_(t, -bound, bound, g);
    }

    /// <summary>PyTorch's default for Linear/Conv: kaiming_uniform(a=√5) weight, bias U(±1/√fan_in).</summary>
    internal static void DefaultLayerInit(Tensor weight, Tensor? bias, Generator? g)
    {
        KaimingUniform_(weight, a: Math.Sqrt(5), g: g);
        if (bias != null)
        {
            var (fi, _) = Fans(weight);
            float bound = fi > 0 ? 1f / MathF.Sqrt(fi) : 0f;
            Uniform_(bias, -bound, bound, g);
        }
    }
}
