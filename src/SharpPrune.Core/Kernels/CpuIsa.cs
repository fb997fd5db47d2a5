using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpPrune.Kernels;

/// <summary>
/// The vector instruction sets the dense kernels choose between at run time, narrowest first. A kernel uses the
/// widest path that both the CPU supports and the current cap allows (<see cref="KernelIsa.Active"/>).
/// </summary>
public enum CpuIsa
{
    /// <summary><c>Vector128</c> code (SSE on x64, NEON on Arm64) with no FMA intrinsics.</summary>
    Portable = 0,
    /// <summary>256-bit AVX2 + FMA3 kernels.</summary>
    Avx2 = 1,
    /// <summary>512-bit AVX-512F kernels (32 zmm registers).</summary>
    Avx512 = 2,
}

/// <summary>
/// Run-time ISA selection for the dense kernels. The widest ISA the CPU has is capped by the environment variable
/// <c>SP_MAX_ISA</c> (<c>avx512</c>, <c>avx2</c> or <c>portable</c>; read once at start-up, so a machine with
/// AVX-512 can also measure the AVX2 path) and, per thread, by <see cref="KernelSwitches.MaxIsa"/> (tests force
/// each path through it; <see cref="Parallelism"/> hands it to the workers).
/// </summary>
public static class KernelIsa
{
    /// <summary>The widest ISA this CPU supports.</summary>
    public static CpuIsa Hardware { get; } =
        Avx512F.IsSupported && Vector512.IsHardwareAccelerated && Fma.IsSupported && Avx2.IsSupported ? CpuIsa.Avx512
        : Fma.IsSupported && Avx2.IsSupported ? CpuIsa.Avx2
        : CpuIsa.Portable;

    /// <summary>The process-wide cap from <c>SP_MAX_ISA</c> (the hardware ISA when unset).</summary>
    public static CpuIsa ProcessCap => s_processCap ?? throw new InvalidOperationException(s_capError);

    // Parsed once; a bad value fails every kernel call with the same clear message (not a type-initialiser error).
    private static readonly string? s_capError;
    private static readonly CpuIsa? s_processCap = ReadCap(out s_capError);

    private static CpuIsa? ReadCap(out string? error)
    {
        error = null;
        try { return ParseCap(Environment.GetEnvironmentVariable("SP_MAX_ISA")); }
        catch (InvalidOperationException e) { error = e.Message; return null; }
    }

    /// <summary>The ISA kernels on this thread use now: min(hardware, SP_MAX_ISA, the thread's cap).</summary>
    public static CpuIsa Active
    {
        get
        {
            CpuIsa isa = ProcessCap;
            if (KernelSwitches.Current.MaxIsa is { } cap && cap < isa) isa = cap;
            return isa;
        }
    }

    /// <summary>Whether the 512-bit kernels run on this thread now.</summary>
    public static bool UseAvx512 => Active >= CpuIsa.Avx512;

    /// <summary>Whether the 256-bit AVX2/FMA kernels (or wider) run on this thread now.</summary>
    public static bool UseAvx2 => Active >= CpuIsa.Avx2;

    internal static CpuIsa ParseCap(string? value)
    {
        CpuIsa cap = value?.Trim().ToLowerInvariant() switch
        {
            null or "" or "avx512" or "avx-512" => CpuIsa.Avx512,
            "avx2" => CpuIsa.Avx2,
            "portable" or "none" => CpuIsa.Portable,
            _ => throw new InvalidOperationException(
                $"SP_MAX_ISA='{value}' is not one of avx512, avx2, portable."),
        };
        return cap < Hardware ? cap : Hardware;
    }

    /// <summary>The CPU's vector ISA extensions .NET reports (for benchmark metadata).</summary>
    public static IReadOnlyList<string> SupportedExtensions()
    {
        var list = new List<string>();
        void Add(bool ok, string name) { if (ok) list.Add(name); }
        Add(Avx2.IsSupported, "avx2"); Add(Fma.IsSupported, "fma");
        Add(Avx512F.IsSupported, "avx512f"); Add(Avx512BW.IsSupported, "avx512bw");
        Add(Avx512CD.IsSupported, "avx512cd"); Add(Avx512DQ.IsSupported, "avx512dq");
        Add(Avx512Vbmi.IsSupported, "avx512vbmi"); Add(AvxVnni.IsSupported, "avxvnni");
        Add(Avx10v1.IsSupported, "avx10.1");
        Add(Vector512.IsHardwareAccelerated, "vector512-accelerated");
        return list;
    }
}
