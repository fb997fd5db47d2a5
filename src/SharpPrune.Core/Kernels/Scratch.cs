using System.Buffers;
using System.Runtime.InteropServices;

namespace SharpPrune.Kernels;

/// <summary>
/// Per-thread, 64-byte aligned native scratch memory that grows on demand and is reused across calls,
/// so hot kernels (GEMM packing) never allocate. Freed by a finalizer when the owning thread dies.
/// </summary>
internal sealed unsafe class NativeScratch
{
    private float* _ptr;
    private nint _capacity;

    public float* Get(nint floats)
    {
        if (floats > _capacity)
        {
            if (_ptr != null) NativeMemory.AlignedFree(_ptr);
            nint cap = Math.Max(floats, _capacity * 3 / 2);
            _ptr = (float*)NativeMemory.AlignedAlloc((nuint)(cap * sizeof(float)), 64);
            _capacity = cap;
        }
        return _ptr;
    }

    ~NativeScratch()
    {
        if (_ptr != null) NativeMemory.AlignedFree(_ptr);
    }
}

/// <summary>Pooled float arrays for larger, short-lived kernel scratch (im2col columns, partial sums).</summary>
internal static class ScratchPool
{
    public static float[] Rent(long length)
    {
        if (length > Array.MaxLength) throw new OutOfMemoryException($"Scratch buffer of {length} floats is too large.");
        return ArrayPool<float>.Shared.Rent((int)Math.Max(length, 1));
    }

    public static void Return(float[] array) => ArrayPool<float>.Shared.Return(array);
}
