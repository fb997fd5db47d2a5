using System.Buffers.Binary;
using System.Text;

namespace SharpPrune.IO.Torch;

/// <summary>A global the restricted unpickler allows, by module and name (e.g. torch._utils._rebuild_tensor_v2).</summary>
internal sealed record PickleGlobal(string Module, string Name)
{
    public override string ToString() => $"{Module}.{Name}";
}

/// <summary>
/// A <c>('storage', torch.FloatStorage, key, location, numel)</c> persistent id (the legacy format adds a sixth entry,
/// view metadata, None since PyTorch 0.4): where a tensor's bytes are.
/// </summary>
internal sealed record StorageRef(TorchDType DType, string Key, long Numel);

/// <summary>A tensor as pickled: a strided view of a storage.</summary>
internal sealed record TensorRef(StorageRef Storage, long Offset, long[] Size, long[] Stride);

/// <summary>An ordered dictionary as unpickled (keys in insertion order, as PyTorch's OrderedDict).</summary>
internal sealed class PickleDict
{
    private readonly Dictionary<object, int> _index = new();
    public List<KeyValuePair<object, object?>> Items { get; } = new();

    public void Set(object key, object? value)
    {
        if (_index.TryGetValue(key, out int i)) Items[i] = new(key, value);
        else { _index[key] = Items.Count; Items.Add(new(key, value)); }
    }

    public object? Get(string key) => _index.TryGetValue(key, out int i) ? Items[i].Value : null;
}

/// <summary>
/// A restricted unpickler for what <c>torch.save</c> writes (protocol 2, the default): plain values and containers,
/// collections.OrderedDict, tensors rebuilt by torch._utils._rebuild_tensor_v2 / _rebuild_parameter over storages
/// named by persistent ids. Any other global, and opcodes that would build arbitrary objects, are refused with an
/// error naming them: reading a checkpoint never runs code. Memory is bounded by the pickle's size (every value
/// comes from at least one byte of it) and nesting by <see cref="MaxDepth"/>.
/// </summary>
internal sealed class PickleReader
{
    public const int MaxDepth = 100;
    private readonly byte[] _data;
    private readonly string _source, _name;
    private int _pos;
    private readonly List<StorageRef> _storages = new();
    private readonly List<object?> _stack = new();
    private readonly List<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = new();

    private static readonly HashSet<PickleGlobal> Callables = new()
    {
        new("collections", "OrderedDict"),
        new("torch._utils", "_rebuild_tensor_v2"),
        new("torch._utils", "_rebuild_parameter"),
    };

    private PickleReader(byte[] data, int start, string source, string name) { _data = data; _pos = start; _source = source; _name = name; }

    public static object? Load(byte[] pickle, string source) => new PickleReader(pickle, 0, source, "data.pkl").Run();

    /// <summary>
    /// The pickle starting at <paramref name="start"/> of <paramref name="data"/> (the legacy format writes several in a
    /// row): its value, the position after its STOP, and the storages its persistent ids named, in order.
    /// </summary>
    public static (object? Value, int End, IReadOnlyList<StorageRef> Storages) Read(byte[] data, int start, string source, string name)
    {
        var r = new PickleReader(data, start, source, name);
        var value = r.Run();
        return (value, r._pos, r._storages);
    }

    private TorchFormatException Error(string what) => new($"{_source}: {_name} at byte {_pos}: {what}");

    private object? Run()
    {
        while (true)
        {
            if (_pos >= _data.Length) throw Error("pickle ends without STOP (truncated)");
            byte op = _data[_pos++];
            switch (op)
            {
                case 0x80: Byte(); break; // PROTO
                case (byte)'.': // STOP
                    if (_stack.Count != 1 || _marks.Count != 0) throw Error("STOP with an unbalanced stack");
                    return _stack[0];
                case (byte)'}': Push(new PickleDict()); break; // EMPTY_DICT
                case (byte)']': Push(new List<object?>()); break; // EMPTY_LIST
                case (byte)')': Push(Array.Empty<object?>()); break; // EMPTY_TUPLE
                case (byte)'(': _marks.Add(_stack.Count); break; // MARK
                case (byte)'N': Push(null); break;
                case 0x88: Push(true); break; // NEWTRUE
                case 0x89: Push(false); break; // NEWFALSE
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break; // BININT
                case (byte)'K': Push((long)Byte()); break; // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break; // BININT2
                case 0x8a: Push(Long1()); break; // LONG1
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break; // BINFLOAT
                case (byte)'X': Push(Utf8(Length4())); break; // BINUNICODE
                case 0x8c: Push(Utf8(Byte())); break; // SHORT_BINUNICODE
                case (byte)'U': Push(Take(Byte()).ToArray()); break; // SHORT_BINSTRING (bytes)
                case (byte)'T': Push(Take(Length4()).ToArray()); break; // BINSTRING
                case (byte)'C': Push(Take(Byte()).ToArray()); break; // SHORT_BINBYTES
                case (byte)'B': Push(Take(Length4()).ToArray()); break; // BINBYTES
                case (byte)'q': _memo[Byte()] = Peek(); break; // BINPUT
                case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))] = Peek(); break; // LONG_BINPUT
                case 0x94: _memo[_memo.Count] = Peek(); break; // MEMOIZE
                case (byte)'h': Push(Memo(Byte())); break; // BINGET
                case (byte)'j': Push(Memo(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break; // LONG_BINGET
                case (byte)'t': Push(PopMark().ToArray()); break; // TUPLE
                case 0x85: Push(new[] { Pop() }); break; // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; } // TUPLE3
                case (byte)'a': { var v = Pop(); var l = AsList(Peek()); l.Add(v); Nest(l, v); break; } // APPEND
                case (byte)'e': { var items = PopMark(); var l = AsList(Peek()); l.AddRange(items); foreach (var x in items) Nest(l, x); break; } // APPENDS
                case (byte)'s': { var v = Pop(); var k = Pop(); var d = AsDict(Peek()); d.Set(Key(k), v); Nest(d, v); break; } // SETITEM
                case (byte)'u': // SETITEMS
                    {
                        var items = PopMark();
                        if (items.Count % 2 != 0) throw Error("SETITEMS with an odd number of items");
                        var d = AsDict(Peek());
                        for (int i = 0; i < items.Count; i += 2) { d.Set(Key(items[i]), items[i + 1]); Nest(d, items[i + 1]); }
                        break;
                    }
                case (byte)'c': Push(Global()); break; // GLOBAL
                case (byte)'Q': Push(PersistentId(Pop())); break; // BINPERSID
                case (byte)'R': { var args = Pop(); var f = Pop(); Push(Reduce(f, args)); break; } // REDUCE
                case (byte)'b': // BUILD: only OrderedDict's attribute dict (a state dict's _metadata) is accepted, and dropped
                    {
                        var state = Pop();
                        if (Peek() is not PickleDict || state is not (PickleDict or null))
                            throw Error($"BUILD on {Describe(Peek())} is not something torch.save writes for tensors and containers; refusing to load");
                        break;
                    }
                default:
                    throw Error($"opcode 0x{op:x2} ('{(op >= 32 && op < 127 ? (char)op : '?')}') is not allowed: only the opcodes torch.save uses for tensors and plain containers are accepted (a pickle with other objects could run code)");
            }
            if (_stack.Count > _data.Length) throw Error("stack larger than the pickle");
        }
    }

    private void Push(object? v)
    {
        if (v is object?[] t) foreach (var x in t) Nest(t, x);
        _stack.Add(v);
    }

    private object? Pop()
    {
        if (_stack.Count == 0 || (_marks.Count > 0 && _stack.Count <= _marks[^1])) throw Error("stack underflow");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private object? Peek() => _stack.Count > 0 && (_marks.Count == 0 || _stack.Count > _marks[^1]) ? _stack[^1] : throw Error("stack underflow");

    private List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Error("no MARK on the stack");
        int m = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        var items = _stack.GetRange(m, _stack.Count - m);
        _stack.RemoveRange(m, _stack.Count - m);
        return items;
    }

    private object? Memo(long key) => _memo.TryGetValue(key, out var v) ? v : throw Error($"memo key {key} was never stored");

    private byte Byte() => Take(1)[0];

    /// <summary>A 4-byte length prefix; anything longer than what is left fails in <see cref="Take"/>.</summary>
    private int Length4() => (int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)), int.MaxValue);

    private ReadOnlySpan<byte> Take(int n)
    {
        if (n < 0 || n > _data.Length - _pos) throw Error($"needs {n} more bytes but {_data.Length - _pos} are left (truncated or corrupt)");
        var s = _data.AsSpan(_pos, n);
        _pos += n;
        return s;
    }

    private string Utf8(int n)
    {
        try { return new UTF8Encoding(false, true).GetString(Take(n)); }
        catch (DecoderFallbackException) { throw Error("a string is not valid UTF-8"); }
    }

    private long Long1()
    {
        int n = Byte();
        if (n > 8) throw Error($"integer of {n} bytes is too large");
        var b = Take(n);
        long v = 0;
        for (int i = n - 1; i >= 0; i--) v = (v << 8) | b[i];
        if (n > 0 && n < 8 && (b[n - 1] & 0x80) != 0) v -= 1L << (8 * n); // two's complement sign
        return v;
    }

    private static object Key(object? k) => k switch
    {
        string or long or bool or double => k,
        _ => throw new TorchFormatException($"dictionary key of type {Describe(k)} is not supported (only strings and numbers)"),
    };

    private List<object?> AsList(object? o) => o as List<object?> ?? throw Error($"APPEND to {Describe(o)}, not a list");
    private PickleDict AsDict(object? o) => o as PickleDict ?? throw Error($"SETITEM on {Describe(o)}, not a dict");

    private object Global()
    {
        string module = Line(), name = Line();
        var g = new PickleGlobal(module, name);
        if (Callables.Contains(g) || (module == "torch" && TorchDTypes.FromStorageName(name) != null)) return g;
        throw Error($"global '{g}' is not allowed: a torch.save checkpoint of tensors needs only torch._utils._rebuild_tensor_v2, torch.*Storage and collections.OrderedDict (refusing to load objects that could run code; save a state_dict instead of a whole model)");
    }

    private string Line()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0 || end - _pos > 256) throw Error("GLOBAL name is not terminated");
        string s = Encoding.ASCII.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }

    private StorageRef PersistentId(object? pid)
    {
        if (pid is not object?[] { Length: 5 or 6 } t || t[0] is not "storage" || t[1] is not PickleGlobal type || t[2] is not string key
            || t[3] is not string || t[4] is not long numel)
            throw Error($"persistent id {Describe(pid)} is not a ('storage', type, key, location, numel) tuple");
        if (t.Length == 6 && t[5] is not null)
            throw Error($"storage '{key}' is a view of another storage (view metadata {Describe(t[5])}), which only PyTorch < 0.4 wrote; re-save the file with a newer PyTorch");
        var dtype = type.Module == "torch" ? TorchDTypes.FromStorageName(type.Name) : null;
        if (dtype == null) throw Error($"storage type {type} is not supported");
        if (numel < 0) throw Error($"storage '{key}' has negative size {numel}");
        var r = new StorageRef(dtype.Value, key, numel);
        _storages.Add(r);
        return r;
    }

    private object Reduce(object? f, object? args)
    {
        if (f is not PickleGlobal g || args is not object?[] a) throw Error($"REDUCE of {Describe(f)} is not allowed");
        switch (g.Name)
        {
            case "OrderedDict" when a.Length == 0: return new PickleDict();
            case "_rebuild_tensor_v2" when a.Length is 6 or 7: return RebuildTensor(a);
            case "_rebuild_parameter" when a.Length == 3 && a[0] is TensorRef t: return t;
            default: throw Error($"call {g}({a.Length} arguments) is not a form torch.save writes");
        }
    }

    private TensorRef RebuildTensor(object?[] a)
    {
        if (a[0] is not StorageRef s || a[1] is not long offset || a[2] is not object?[] size || a[3] is not object?[] stride)
            throw Error("_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, …)");
        if (size.Length != stride.Length || size.Length > 16) throw Error($"tensor of rank {size.Length} with {stride.Length} strides");
        var sz = new long[size.Length];
        var st = new long[size.Length];
        for (int i = 0; i < sz.Length; i++)
        {
            if (size[i] is not long n || n < 0 || stride[i] is not long k || k < 0) throw Error($"tensor size or stride at dimension {i} is not a non-negative integer");
            sz[i] = n; st[i] = k;
        }
        return new TensorRef(s, offset, sz, st);
    }

    /// <summary>Nesting depth of each container built so far (by reference: memo can share one), capped by <see cref="MaxDepth"/>.</summary>
    private readonly Dictionary<object, int> _depth = new(ReferenceEqualityComparer.Instance);

    private int DepthOf(object? v) => v != null && _depth.TryGetValue(v, out int d) ? d : 0;

    /// <summary>Records that <paramref name="container"/> holds <paramref name="item"/>; throws past the nesting limit.</summary>
    private void Nest(object container, object? item)
    {
        int d = Math.Max(_depth.GetValueOrDefault(container, 1), DepthOf(item) + 1);
        if (d > MaxDepth) throw Error($"containers nested deeper than {MaxDepth}");
        _depth[container] = d;
    }

    internal static string Describe(object? o) => o switch
    {
        null => "None",
        string s => $"'{(s.Length > 40 ? s[..40] + "…" : s)}'",
        long or double or bool => o.ToString()!,
        PickleGlobal g => g.ToString(),
        object?[] t => $"a tuple of {t.Length}",
        List<object?> l => $"a list of {l.Count}",
        PickleDict => "a dict",
        TensorRef => "a tensor",
        _ => o.GetType().Name,
    };
}
