using System.Text;
using SharpPrune.Autograd;

namespace SharpPrune;

/// <summary>
/// A dense float32 tensor, row-major and always contiguous. Views (<see cref="View"/>, <see cref="Reshape"/>,
/// slices along dim 0) share storage; permutes and other slices copy. Keeping every tensor contiguous keeps
/// every kernel a plain loop over a span, which is what the CPU wants.
/// </summary>
public sealed partial class Tensor
{
    private float[] _storage;
    private int _offset;
    private int[] _shape;
    private readonly int _numel; // shapes never change after construction; cached because Data is on every hot path
    private bool _requiresGrad;
    // Storage rented by Empty and never shared with another tensor object: may go back to the pool (Recycle).
    private bool _recyclable;
    private bool _poolBorn; // storage rented from the pool by Empty

    /// <summary>Accumulated gradient (leaves only, like PyTorch's .grad).</summary>
    public Tensor? Grad { get; set; }

    /// <summary>The node that produced this tensor; null for leaves.</summary>
    internal GradNode? GradFn { get; set; }

    /// <summary>Bumped on every in-place write through public APIs; used to detect views of changed data.</summary>
    public int Version { get; private set; }

    public Tensor(float[] data, params int[] shape) : this(data, 0, shape) { }

    internal Tensor(float[] storage, int offset, int[] shape)
    {
        ArgumentNullException.ThrowIfNull(storage);
        _shape = (int[])shape.Clone();
        long n = Shapes.Numel(_shape);
        if (offset < 0 || offset + n > storage.Length)
            throw new ArgumentException($"data of length {storage.Length} (offset {offset}) cannot hold shape {Shapes.Format(_shape)} ({n} elements)");
        _storage = storage;
        _offset = offset;
        _numel = (int)n;
    }

    public static Tensor FromArray(float[] data, params int[] shape)
    {
        if (Shapes.Numel(shape) != data.Length)
            throw new ArgumentException($"data has {data.Length} elements but shape {Shapes.Format(shape)} needs {Shapes.Numel(shape)}");
        return new Tensor(data, shape);
    }

    public IReadOnlyList<int> Shape => _shape;
    internal int[] ShapeArray => _shape;
    public int[] ShapeCopy() => (int[])_shape.Clone();
    public int Dim => _shape.Length;
    public int Numel => _numel;
    public int Size(int dim) => _shape.Length == 0
        ? throw new IndexOutOfRangeException($"dimension specified as {dim} but tensor has no dimensions")
        : _shape[Shapes.NormDim(dim, _shape.Length)];

    /// <summary>The elements, row-major. Writing through this span bypasses autograd.</summary>
    public Span<float> Data => _storage.AsSpan(_offset, _numel);
    internal float[] Storage => _storage;
    internal int Offset => _offset;
    public bool SharesStorageWith(Tensor other) => ReferenceEquals(_storage, other._storage);

    public bool RequiresGrad
    {
        get => _requiresGrad;
        set
        {
            if (!value && GradFn != null)
                throw new InvalidOperationException("cannot turn off RequiresGrad on a non-leaf tensor; use Detach()");
            _requiresGrad = value;
        }
    }

    public bool IsLeaf => GradFn == null;

    public float Item()
    {
        if (Numel != 1) throw new InvalidOperationException($"Item() needs a tensor with one element, got shape {Shapes.Format(_shape)}");
        return _storage[_offset];
    }

    [System.Runtime.CompilerServices.IndexerName("At")]
    public float this[params int[] index]
    {
        get => _storage[_offset + FlatIndex(index)];
        set { _storage[_offset + FlatIndex(index)] = value; Version++; }
    }

    private int FlatIndex(int[] index)
    {
        if (index.Length != _shape.Length)
            throw new ArgumentException($"index has {index.Length} dims, tensor has {_shape.Length} (shape {Shapes.Format(_shape)})");
        int flat = 0;
        for (int d = 0; d < index.Length; d++)
        {
            int i = index[d] < 0 ? index[d] + _shape[d] : index[d];
            if ((uint)i >= (uint)_shape[d])
                throw new IndexOutOfRangeException($"index {index[d]} out of range for dim {d} of size {_shape[d]}");
            flat = flat * _shape[d] + i;
        }
        return flat;
    }

    public float[] ToArray() => Data.ToArray();

    /// <summary>A new leaf sharing storage, cut from the graph.</summary>
    public Tensor Detach() => Share(_offset, _shape);

    /// <summary>A deep copy that is a leaf.</summary>
    public Tensor Clone() => new(Data.ToArray(), _shape);

    /// <summary>Marks data as written in place (bumps <see cref="Version"/>).</summary>
    public void MarkChanged() => Version++;

    /// <summary>Copies <paramref name="src"/> into this tensor in place (shapes must match in element count).</summary>
    public Tensor CopyFrom(Tensor src)
    {
        if (!Shapes.Equal(_shape, src._shape))
            throw new ArgumentException($"copy: shape mismatch, destination {Shapes.Format(_shape)} vs source {Shapes.Format(src._shape)}");
        src.Data.CopyTo(Data);
        Version++;
        return this;
    }

    public Tensor Fill_(float value) { Data.Fill(value); Version++; return this; }
    public Tensor Zero_() => Fill_(0f);

    /// <summary>Sets RequiresGrad and returns this (fluent, like PyTorch's requires_grad_()).</summary>
    public Tensor RequiresGrad_(bool value = true) { RequiresGrad = value; return this; }

    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append("tensor(");
        var d = Data;
        int show = Math.Min(d.Length, 12);
        sb.Append('[');
        for (int i = 0; i < show; i++) { if (i > 0) sb.Append(", "); sb.Append(d[i].ToString("G6", System.Globalization.CultureInfo.InvariantCulture)); }
        if (d.Length > show) sb.Append(", ...");
        sb.Append("], shape=").Append(Shapes.Format(_shape));
        if (RequiresGrad) sb.Append(", requires_grad=True");
        sb.Append(')');
        return sb.ToString();
    }

    // --- construction ---
    public static Tensor Zeros(params int[] shape) { var t = Empty(shape); t.Data.Clear(); return t; }
    public static Tensor Ones(params int[] shape) => Full(shape, 1f);
    public static Tensor Full(int[] shape, float value) { var t = Empty(shape); t.Data.Fill(value); return t; }
    public static Tensor Scalar(float value) => new(new[] { value }, Array.Empty<int>());
    public static Tensor ZerosLike(Tensor t) => Zeros(t._shape);
    public static Tensor OnesLike(Tensor t) => Ones(t._shape);

    /// <summary>Uninitialised storage: for outputs every element of which a kernel overwrites.</summary>
    public static Tensor Empty(params int[] shape)
    {
        var t = new Tensor(StoragePool.Rent(Shapes.NumelChecked(shape)), shape) { _recyclable = true, _poolBorn = true };
        t_created?.Add(t);
        return t;
    }

    /// <summary>A tensor object over this one's storage (a view); neither may then be recycled.</summary>
    private Tensor Share(int offset, int[] shape)
    {
        _recyclable = false;
        var t = new Tensor(_storage, offset, shape);
        t_created?.Add(t);
        return t;
    }

    /// <summary>Tensors created on this thread (by Empty or as views) while a module forward is being scoped.</summary>
    [ThreadStatic] private static List<Tensor>? t_created;

    /// <summary>Starts recording the tensors this thread creates; returns the previous recording list.</summary>
    internal static List<Tensor>? BeginCreatedScope(List<Tensor> list)
    {
        var prev = t_created;
        t_created = list;
        return prev;
    }

    internal static void EndCreatedScope(List<Tensor>? previous) => t_created = previous;

    /// <summary>
    /// Releases storage owned by a finished graph: every tensor in <paramref name="tensors"/> loses its storage
    /// (any later use throws), and each library-allocated array goes back to the pool once.
    /// </summary>
    internal static void ReleaseStorage(List<Tensor> tensors)
    {
        var returnable = new HashSet<float[]>(ReferenceEqualityComparer.Instance);
        foreach (var t in tensors)
            if (t._poolBorn && t._storage.Length != 0) returnable.Add(t._storage);
        foreach (var t in tensors)
        {
            t._storage = Array.Empty<float>();
            t._recyclable = false;
        }
        foreach (var a in returnable) StoragePool.Return(a);
    }

    /// <summary>
    /// Hands this tensor's storage back to the pool for the next allocation of the same size, under no-grad
    /// only, and only if the storage was allocated by the library and never shared with another tensor object.
    /// The caller guarantees nothing else holds this tensor (see <c>Module.Recycle</c>); any later use of it
    /// fails loudly instead of reading reused memory. Returns whether the storage was recycled.
    /// </summary>
    internal bool Recycle()
    {
        if (!_recyclable || GradMode.IsEnabled || GradFn != null || _requiresGrad) return false;
        _recyclable = false;
        var s = _storage;
        _storage = Array.Empty<float>();
        StoragePool.Return(s);
        return true;
    }

    public static Tensor Arange(float start, float end, float step = 1f)
    {
        if (step == 0) throw new ArgumentException("arange: step must be non-zero");
        int n = (int)Math.Ceiling((end - start) / step);
        if (n < 0) n = 0;
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = start + i * step;
        return new Tensor(a, n);
    }
    public static Tensor Arange(int end) => Arange(0, end);

    public static Tensor Rand(Generator g, params int[] shape) { var t = Empty(shape); g.FillUniform(t.Data, 0f, 1f); return t; }
    public static Tensor Randn(Generator g, params int[] shape) { var t = Empty(shape); g.FillNormal(t.Data, 0f, 1f); return t; }
}
