namespace SharpPrune.NN;

public sealed class ReLU : Module
{
    /// <summary>Overwrite the input instead of allocating the output (PyTorch's inplace=True; see <see cref="Tensor.Relu_"/>).</summary>
    public bool Inplace { get; }
    public ReLU(bool inplace = false) { Inplace = inplace; }
    protected override Tensor ForwardCore(Tensor input) => Inplace ? input.Relu_() : input.Relu();
    public override string ExtraRepr() => Inplace ? "inplace=True" : "";
}

public sealed class Identity : Module
{
    protected override Tensor ForwardCore(Tensor input) => input;
}

public sealed class Flatten : Module
{
    public int StartDim { get; }
    public int EndDim { get; }
    public Flatten(int startDim = 1, int endDim = -1) { StartDim = startDim; EndDim = endDim; }
    protected override Tensor ForwardCore(Tensor input) => input.Flatten(StartDim, EndDim);
    public override string ExtraRepr() => $"start_dim={StartDim}, end_dim={EndDim}";
}

public sealed class Dropout : Module
{
    public float P { get; }
    public Generator? Generator { get; set; }
    public Dropout(float p = 0.5f)
    {
        if (p < 0 || p > 1) throw new ArgumentOutOfRangeException(nameof(p), $"dropout probability has to be between 0 and 1, but got {p}");
        P = p;
    }
    protected override Tensor ForwardCore(Tensor input) => F.Dropout(input, P, Training, Generator);
    // PyTorch prints the float as Python does (0.5, 1.0) and always shows inplace.
    public override string ExtraRepr() =>
        $"p={P.ToString(System.Globalization.CultureInfo.InvariantCulture)}{(P == MathF.Floor(P) ? ".0" : "")}, inplace=False";
}
