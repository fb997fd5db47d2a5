namespace SharpPrune.Autograd;

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
