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

    public GradNode(string name, Tensor[] inputs, Func<Tensor, Tensor?[]> backward)
    {
        Name = name; Inputs = inputs; Backward = backward;
    }
}

/// <summary>Global switch for graph recording, like torch.no_grad().</summary>
public static class GradMode
{
    [ThreadStatic] private static int _disabledDepth;

    public static bool IsEnabled => _disabledDepth == 0;

    /// <summary>Disables graph recording until the returned scope is disposed.</summary>
    public static NoGradScope NoGrad() { _disabledDepth++; return new NoGradScope(); }

    public readonly struct NoGradScope : IDisposable
    {
        public void Dispose() => _disabledDepth--;
    }
}
