namespace SharpPrune.Kernels;

/// <summary>
/// The test and bench switches that select or tune a kernel path (force the portable code, the small or packed
/// GEMM, the direct convolution; GEMM cache blocking). Per thread, and handed by <see cref="Parallelism"/> to the
/// workers of the caller's parallel loops, so a test that forces a path sees it in every thread its kernel runs on
/// and cannot change another test's results. Set them through the owning kernel's properties
/// (<c>KernelIsa</c> via <c>Gemm.MaxIsa</c>, <c>Gemm.ForcePortable</c>, <c>Gemm.ForceSmall</c>, <c>Gemm.KC/MC/NC</c>, <c>DirectConv.Force</c>,
/// <c>Conv2dKernels.InputGradAsForward</c>), in a
/// try/finally that restores the default.
/// </summary>
internal struct KernelSwitches
{
    [ThreadStatic] internal static KernelSwitches Current;

    /// <summary>Cap on the vector ISA the kernels use (null = <see cref="KernelIsa.ProcessCap"/>).</summary>
    public CpuIsa? MaxIsa;
    /// <summary>null = automatic; true/false = force the direct / packed GEMM kernels.</summary>
    public bool? GemmSmall;
    /// <summary>null = automatic; true/false = force the direct convolution on/off where supported.</summary>
    public bool? DirectConv;
    /// <summary>null = automatic; true/false = force the stride-1 input gradient as a forward convolution with flipped
    /// weights / as GEMM + col2im (<c>Conv2dKernels.InputGradAsForward</c>).</summary>
    public bool? InputGradAsForward;
    /// <summary>GEMM cache blocking overrides (null = the tuned default).</summary>
    public int? KC, MC, NC;
}
