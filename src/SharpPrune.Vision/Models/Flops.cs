using SharpPrune.Autograd;
using SharpPrune.NN;

namespace SharpPrune.Vision.Models;

/// <summary>Multiply-accumulates of one Conv2d/Linear call for a single input sample.</summary>
/// <param name="Weights">Weight elements used per output position: all of them, or only the non-zero ones.</param>
public sealed record LayerMacs(string Name, string TypeName, int[] OutputShape, long Weights, long Macs);

public sealed record FlopsReport(IReadOnlyList<LayerMacs> Layers, bool CountZeros)
{
    public long TotalMacs => Layers.Sum(l => l.Macs);

    /// <summary>FLOPs counted as 2 per multiply-accumulate.</summary>
    public long TotalFlops => 2 * TotalMacs;
}

/// <summary>
/// Counts the multiply-accumulates of Conv2d and Linear layers for one sample (the usual measure of a
/// network's cost; biases, BN, activations and pooling are left out). With <c>countZeros: false</c> only
/// non-zero weights count — the cost a sparse kernel would pay after unstructured pruning. The weight read
/// is <c>module["weight"]</c>, so a pruned layer's masked weight is what is counted.
/// </summary>
public static class Flops
{
    public static FlopsReport Count(Module model, int[] inputShape, bool countZeros = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (inputShape.Length == 0 || inputShape.Any(s => s < 1))
            throw new ArgumentException($"input shape must be non-empty with positive sizes (no batch dimension), got {Shapes.Format(inputShape)}");
        var rows = new List<LayerMacs>();
        var handles = new List<HookHandle>();
        var modes = model.NamedModules().Select(m => (m.Module, m.Module.Training)).ToList();
        try
        {
            foreach (var (name, m) in model.NamedModules())
            {
                if (m is not (Conv2d or Linear)) continue;
                var layerName = name;
                handles.Add(m.RegisterForwardHook((mod, _, output) =>
                {
                    var w = mod["weight"]!;
                    long perPosition = countZeros ? w.Numel : w.CountNonZero();
                    // Output positions per sample: conv → H·W; linear → all leading dims but the batch.
                    long positions = mod is Conv2d ? (long)output.Size(2) * output.Size(3) : output.Numel / output.Size(0) / output.Size(-1);
                    // Each output channel/feature uses only its own weight row, so per position the MACs are
                    // the weight's element count (grouped convs included).
                    var shape = output.ShapeCopy(); shape[0] = 1;
                    rows.Add(new LayerMacs(layerName, mod.TypeName, shape, perPosition, perPosition * positions));
                    return null;
                }));
            }
            model.Eval();
            var batch = new int[inputShape.Length + 1];
            batch[0] = 1; inputShape.CopyTo(batch, 1);
            using (GradMode.NoGrad()) model.Forward(Tensor.Zeros(batch));
        }
        finally
        {
            foreach (var h in handles) h.Remove();
            foreach (var (m, training) in modes) m.Train(training);
        }
        return new FlopsReport(rows, countZeros);
    }
}
