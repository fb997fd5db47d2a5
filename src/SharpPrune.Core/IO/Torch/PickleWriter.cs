using System.Text;

namespace SharpPrune.IO.Torch;

/// <summary>
/// Writes the pickle (protocol 2) of an OrderedDict of contiguous float32 tensors the way torch.save does: each
/// tensor is torch._utils._rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict()) with the storage a
/// persistent id ('storage', torch.FloatStorage, key, 'cpu', numel); storage i holds the i-th tensor.
/// </summary>
internal static class PickleWriter
{
    public static byte[] StateDict(IReadOnlyList<KeyValuePair<string, Tensor>> tensors)
    {
        using var ms = new MemoryStream();
        var w = new BinaryWriter(ms, Encoding.UTF8);
        w.Write((byte)0x80); w.Write((byte)2);                    // PROTO 2
        OrderedDict(w);
        if (tensors.Count > 0)
        {
            w.Write((byte)'(');                                   // MARK
            for (int i = 0; i < tensors.Count; i++)
            {
                var (key, t) = tensors[i];
                Str(w, key);
                Global(w, "torch._utils", "_rebuild_tensor_v2");
                w.Write((byte)'(');                               // MARK: the arguments
                w.Write((byte)'(');                               // MARK: the persistent id
                Str(w, "storage");
                Global(w, "torch", "FloatStorage");
                Str(w, i.ToString(System.Globalization.CultureInfo.InvariantCulture));
                Str(w, "cpu");
                Int(w, t.Numel);
                w.Write((byte)'t');                               // TUPLE
                w.Write((byte)'Q');                               // BINPERSID
                Int(w, 0);                                        // storage offset
                IntTuple(w, t.Shape);
                IntTuple(w, Strides(t.Shape));
                w.Write((byte)0x89);                              // NEWFALSE: requires_grad
                OrderedDict(w);                                   // backward hooks
                w.Write((byte)'t');                               // TUPLE
                w.Write((byte)'R');                               // REDUCE
            }
            w.Write((byte)'u');                                   // SETITEMS
        }
        w.Write((byte)'.');                                       // STOP
        w.Flush();
        return ms.ToArray();
    }

    private static void OrderedDict(BinaryWriter w)
    {
        Global(w, "collections", "OrderedDict");
        w.Write((byte)')');                                       // EMPTY_TUPLE
        w.Write((byte)'R');                                       // REDUCE
    }

    private static void Global(BinaryWriter w, string module, string name)
    {
        w.Write((byte)'c');
        w.Write(Encoding.ASCII.GetBytes($"{module}\n{name}\n"));
    }

    private static void Str(BinaryWriter w, string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
        w.Write((byte)'X');                                       // BINUNICODE
        w.Write((uint)b.Length);
        w.Write(b);
    }

    private static void Int(BinaryWriter w, int v)
    {
        w.Write((byte)'J');                                       // BININT
        w.Write(v);
    }

    private static void IntTuple(BinaryWriter w, IReadOnlyList<int> values)
    {
        w.Write((byte)'(');
        foreach (int v in values) Int(w, v);
        w.Write((byte)'t');
    }

    private static int[] Strides(IReadOnlyList<int> shape)
    {
        var s = new int[shape.Count];
        int acc = 1;
        for (int i = shape.Count - 1; i >= 0; i--) { s[i] = acc; acc *= Math.Max(shape[i], 1); }
        return s;
    }
}
