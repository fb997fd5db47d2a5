using SharpPrune.Autograd;
using SharpPrune.Kernels;
using SharpPrune.NN;

namespace SharpPrune.Pruning;

/// <summary>
/// Turns a pruned (or weight-shared, or decompressed .spz) model into an inference-only one. Every Conv2d (groups 1)
/// and Linear whose effective weight is sparse enough for <see cref="SparseCrossover"/> to prefer the sparse kernel
/// at some batch size is replaced by a <see cref="SparseLinear"/>/<see cref="SparseConv2d"/> (which still run dense
/// for the batches where dense is faster); the other layers keep a plain dense weight (pruning and sharing made permanent).
/// The result computes the same function as the masked model (up to summation order) and is in eval mode.
/// <code>
/// var layers = model.ToInference();                         // in place; returns the per-layer choices
/// using (GradMode.NoGrad()) logits = fast.Forward(x);
/// </code>
/// </summary>
public static class SparseInference
{
    /// <summary>One converted layer: its path, kind, density and whether it became sparse.</summary>
    public sealed record LayerChoice(string Path, string Kind, double Density, bool Sparse);

    /// <summary>
    /// Converts <paramref name="model"/> in place (see the class summary). With <paramref name="sparse"/> false every
    /// layer stays dense (the reparametrisations are only made permanent). <paramref name="force"/> makes every eligible
    /// layer sparse whatever its density, and runs the sparse kernels for every batch size (tests and crossover
    /// measurements).
    /// </summary>
    public static IReadOnlyList<LayerChoice> ToInference(this Module model, bool sparse = true, bool force = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        Prune.Refresh(model);
        WeightSharing.Refresh(model);
        var choices = new List<LayerChoice>();
        foreach (var (path, m) in model.NamedModules().Where(m => m.Module is Conv2d or Linear).ToList())
        {
            if (string.IsNullOrEmpty(path)) throw new ArgumentException("the model itself is a Conv2d/Linear; wrap it in a Sequential to convert it");
            Tensor w;
            using (GradMode.NoGrad()) w = m["weight"]!.Detach().Clone();
            var bias = m.TryGet("bias", out var b) && b != null ? b : null;
            double density = w.Numel == 0 ? 0 : (double)w.CountNonZero() / w.Numel;
            bool isConv = m is Conv2d;
            bool eligible = sparse && (m is not Conv2d c || c.Groups == 1);
            bool toSparse = eligible && (force || (isConv ? SparseCrossover.ConvChoices(density).Sparse
                : SparseCrossover.LinearChoices(density, w.Size(1), w.Size(0)).Sparse));
            if (toSparse)
            {
                int dot = path.LastIndexOf('.');
                var parent = dot < 0 ? model : model.GetSubmodule(path[..dot]);
                Module replacement = isConv ? new SparseConv2d((Conv2d)m, w, bias, force) : new SparseLinear(w, bias, force);
                parent.RegisterModule(path[(dot + 1)..], replacement);
            }
            else
            {
                foreach (var name in new[] { "weight", "bias" })
                {
                    if (BasePruningMethod.FindHook(m, name).Hook != null) Prune.Remove(m, name);
                    if (WeightSharing.Find(m, name) != null) WeightSharing.Remove(m, name);
                }
            }
            choices.Add(new LayerChoice(path, isConv ? "conv" : "linear", density, toSparse));
        }
        model.Eval();
        return choices;
    }
}
