using SharpPrune.Autograd;

namespace SharpPrune;

public sealed partial class Tensor
{
    /// <summary>Attaches <paramref name="backward"/> to <paramref name="output"/> when grad mode is on and any input needs grad.</summary>
    /// <param name="saved">What <paramref name="backward"/> reads besides the gradient: in-place writes to those
    /// tensors before backward make it throw instead of computing a wrong gradient.</param>
    internal static Tensor Record(Tensor output, string name, Tensor[] inputs, Func<Tensor, Tensor?[]> backward,
        Saved saved = Saved.Inputs)
    {
        if (!GradMode.IsEnabled) return output;
        foreach (var i in inputs)
        {
            if (i.RequiresGrad)
            {
                output._requiresGrad = true;
                output.GradFn = new GradNode(name, inputs, backward, saved) { OutputVersion = output.Version };
                break;
            }
        }
        return output;
    }

    /// <summary>
    /// Runs reverse-mode differentiation from this tensor; gradients accumulate into leaves' <see cref="Grad"/>.
    /// As in PyTorch, the activations a model's forward saved for this graph are released afterwards (back to the
    /// storage pool), so a second backward through it throws unless <paramref name="retainGraph"/> is true.
    /// </summary>
    public void Backward(Tensor? gradient = null, bool retainGraph = false) => Engine.Backward(this, gradient, retainGraph);

    /// <summary>The recorded op's name (PyTorch's grad_fn), or null for a leaf.</summary>
    public string? GradFnName => GradFn?.Name;

    /// <summary>
    /// The tensors the recorded op read (PyTorch's <c>grad_fn.next_functions</c>, as tensors); empty for a leaf.
    /// Exporters walk these to recover the op sequence a forward ran (SharpPrune.Onnx's tracer does), structured
    /// pruning to find which channels are coupled.
    /// </summary>
    public IReadOnlyList<Tensor> GradFnInputs => GradFn?.Inputs ?? Array.Empty<Tensor>();
}
