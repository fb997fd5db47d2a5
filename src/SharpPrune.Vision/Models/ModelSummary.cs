using System.Globalization;
using System.Text;
using SharpPrune.Autograd;
using SharpPrune.NN;

namespace SharpPrune.Vision.Models;

/// <summary>One call of a leaf module during the summary's forward pass (torchsummary's row).</summary>
/// <param name="Layer">"Conv2d-1": type name and call number, as torchsummary keys rows.</param>
/// <param name="Name">The module's dotted path in the model ("layer1.0.conv1").</param>
/// <param name="OutputShape">Output shape with the batch dimension shown as -1.</param>
/// <param name="Params">Elements of the module's weight and bias (as torchsummary counts them).</param>
/// <param name="Trainable">Whether the weight requires grad; null for modules without a weight.</param>
public sealed record SummaryRow(string Layer, string Name, string TypeName, int[] OutputShape, long Params, bool? Trainable);

/// <summary>
/// A Keras/torchsummary-style table of a model: runs one forward on a zero batch of 2 in eval mode and
/// without grad (so batch-norm statistics are untouched), with forward hooks on every leaf module.
/// Differences from torchsummary: only leaf modules get rows (container blocks and the model itself have
/// none), so "Forward/backward pass size" counts leaf outputs only; sizes assume 4-byte floats as it does.
/// </summary>
public sealed class ModelSummary
{
    private const string Dashes = "----------------------------------------------------------------";
    private const string Equals_ = "================================================================";

    public IReadOnlyList<SummaryRow> Rows { get; }
    public int[] InputShape { get; }
    public long TotalParams { get; }
    public long TrainableParams { get; }
    public long NonTrainableParams => TotalParams - TrainableParams;
    public double InputSizeMB { get; }
    public double ForwardBackwardSizeMB { get; }
    public double ParamsSizeMB { get; }
    public double EstimatedTotalSizeMB => InputSizeMB + ForwardBackwardSizeMB + ParamsSizeMB;

    private ModelSummary(List<SummaryRow> rows, int[] inputShape)
    {
        Rows = rows;
        InputShape = inputShape;
        long outputs = 0;
        foreach (var r in rows)
        {
            TotalParams += r.Params;
            if (r.Trainable == true) TrainableParams += r.Params;
            outputs += Shapes.Numel(r.OutputShape.Skip(1).ToArray());
        }
        const double MB = 1024.0 * 1024.0;
        InputSizeMB = Shapes.Numel(inputShape) * 4.0 / MB;
        ForwardBackwardSizeMB = 2.0 * outputs * 4.0 / MB; // ×2 for gradients
        ParamsSizeMB = TotalParams * 4.0 / MB;
    }

    /// <summary>Summarises <paramref name="model"/> for one input of shape <paramref name="inputShape"/> (C, H, W; no batch dim).</summary>
    public static ModelSummary Run(Module model, int[] inputShape)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (inputShape.Length == 0 || inputShape.Any(s => s < 1))
            throw new ArgumentException($"input shape must be non-empty with positive sizes (no batch dimension), got {Shapes.Format(inputShape)}");
        var rows = new List<SummaryRow>();
        var names = new Dictionary<Module, string>(ReferenceEqualityComparer.Instance);
        foreach (var (n, m) in model.NamedModules()) names[m] = n;
        var handles = new List<HookHandle>();
        var modes = model.NamedModules().Select(m => (m.Module, m.Module.Training)).ToList();
        try
        {
            foreach (var (name, m) in model.NamedModules())
            {
                if (m.Children().Any()) continue;
                handles.Add(m.RegisterForwardHook((mod, _, output) =>
                {
                    var shape = output.ShapeCopy();
                    if (shape.Length > 0) shape[0] = -1;
                    long p = 0; bool? trainable = null;
                    if (mod.TryGet("weight", out var w) && w != null) { p += w.Numel; trainable = w.RequiresGrad; }
                    if (mod.TryGet("bias", out var b) && b != null) p += b.Numel;
                    rows.Add(new SummaryRow($"{mod.TypeName}-{rows.Count + 1}", names[mod], mod.TypeName, shape, p, trainable));
                    return null;
                }));
            }
            model.Eval();
            var batch = new int[inputShape.Length + 1];
            batch[0] = 2; inputShape.CopyTo(batch, 1);
            using (GradMode.NoGrad()) model.Forward(Tensor.Zeros(batch));
        }
        finally
        {
            foreach (var h in handles) h.Remove();
            // Pre-order: a parent's Train() resets its subtree, then each child restores its own flag.
            foreach (var (m, training) in modes) m.Train(training);
        }
        return new ModelSummary(rows, (int[])inputShape.Clone());
    }

    /// <summary>The table in torchsummary's text layout.</summary>
    public string Format()
    {
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(Dashes).Append('\n');
        sb.Append(string.Format(c, "{0,20}  {1,25} {2,15}", "Layer (type)", "Output Shape", "Param #")).Append('\n');
        sb.Append(Equals_).Append('\n');
        foreach (var r in Rows)
            sb.Append(string.Format(c, "{0,20}  {1,25} {2,15}", r.Layer, "[" + string.Join(", ", r.OutputShape) + "]", r.Params.ToString("N0", c))).Append('\n');
        sb.Append(Equals_).Append('\n');
        sb.Append("Total params: ").Append(TotalParams.ToString("N0", c)).Append('\n');
        sb.Append("Trainable params: ").Append(TrainableParams.ToString("N0", c)).Append('\n');
        sb.Append("Non-trainable params: ").Append(NonTrainableParams.ToString("N0", c)).Append('\n');
        sb.Append(Dashes).Append('\n');
        sb.Append("Input size (MB): ").Append(InputSizeMB.ToString("F2", c)).Append('\n');
        sb.Append("Forward/backward pass size (MB): ").Append(ForwardBackwardSizeMB.ToString("F2", c)).Append('\n');
        sb.Append("Params size (MB): ").Append(ParamsSizeMB.ToString("F2", c)).Append('\n');
        sb.Append("Estimated Total Size (MB): ").Append(EstimatedTotalSizeMB.ToString("F2", c)).Append('\n');
        sb.Append(Dashes).Append('\n');
        return sb.ToString();
    }

    public override string ToString() => Format();
}
