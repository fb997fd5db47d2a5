namespace SharpPrune.Autograd;

/// <summary>
/// One recorded operation: its inputs and a closure mapping the output's gradient to the inputs' gradients.
/// The closure lives next to the op's forward code (see Ops/), micrograd-style.
/// </summary>
internal sealed class GradNode
{
    public readonly string Name;
    public readonly Tensor[] Inputs;
    public readonly Func<Tensor, Tensor?[]> Backward;

    /// <summary>What the backward closure reads besides the incoming gradient (checked for in-place writes).</summary>
    public readonly Saved Saved;

    /// <summary>Versions of <see cref="Inputs"/> when recorded (only when the closure reads them).</summary>
    public readonly int[]? InputVersions;

    /// <summary>Version of the output when recorded.</summary>
    public int OutputVersion;

    /// <summary>
    /// Activations a scoped module forward created that nothing outside the graph can reach (set on the node of
    /// the forward's output); released after the backward that runs through them unless the graph is retained.
    /// </summary>
    public List<Tensor>? OwnedActivations;

    /// <summary>Set once a backward released the graph's activations: another backward through it must fail.</summary>
    public bool Freed;

    public GradNode(string name, Tensor[] inputs, Func<Tensor, Tensor?[]> backward, Saved saved = Saved.Inputs)
    {
        Name = name; Inputs = inputs; Backward = backward; Saved = saved;
        if ((saved & Saved.Inputs) != 0)
        {
            InputVersions = new int[inputs.Length];
            for (int i = 0; i < inputs.Length; i++) InputVersions[i] = inputs[i].Version;
        }
    }

    /// <summary>
    /// Throws if a tensor this node's backward reads was modified in place after it was recorded (PyTorch's
    /// version-counter check): its gradient would silently be computed from the new values.
    /// </summary>
    public void CheckVersions(Tensor output)
    {
        if ((Saved & Saved.Output) != 0 && output.Version != OutputVersion)
            throw Modified(output, OutputVersion, "output");
        if (InputVersions == null) return;
        for (int i = 0; i < Inputs.Length; i++)
            if (Inputs[i].Version != InputVersions[i])
                throw Modified(Inputs[i], InputVersions[i], $"input {i}");
    }

    private InvalidOperationException Modified(Tensor t, int expected, string which) => new(
        $"one of the tensors needed for gradient computation has been modified by an inplace operation: {which} " +
        $"of {Name}, shape {Shapes.Format(t.Shape)}, is at version {t.Version}; expected version {expected}");
}

/// <summary>Which tensors a backward closure reads (beyond the incoming gradient).</summary>
[Flags]
internal enum Saved
{
    None = 0,
    Inputs = 1,
    Output = 2,
}
