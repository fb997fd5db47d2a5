namespace SharpPrune.NN;

public sealed class Linear : Module
{
    public int InFeatures { get; }
    public int OutFeatures { get; }

    public Linear(int inFeatures, int outFeatures, bool bias = true, Generator? generator = null)
    {
        if (inFeatures < 0 || outFeatures < 0) throw new ArgumentOutOfRangeException(nameof(inFeatures), $"Linear({inFeatures}, {outFeatures}): sizes must be >= 0");
        InFeatures = inFeatures; OutFeatures = outFeatures;
        var w = AddParameter("weight", Tensor.Empty(outFeatures, inFeatures));
        var b = bias ? AddParameter("bias", Tensor.Empty(outFeatures)) : RegisterParameter("bias", null);
        Init.DefaultLayerInit(w, b, generator);
    }

    public Tensor Weight => Get("weight");
    public Tensor? Bias => GetOptional("bias");

    protected override Tensor ForwardCore(Tensor input) => F.Linear(input, Weight, Bias);

    public override string ExtraRepr() => $"in_features={InFeatures}, out_features={OutFeatures}, bias={(Bias != null ? "True" : "False")}";
}
