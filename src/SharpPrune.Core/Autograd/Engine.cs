namespace SharpPrune.Autograd;

/// <summary>Reverse-mode sweep over the dynamic graph.</summary>
internal static class Engine
{
    public static void Backward(Tensor root, Tensor? gradient, bool retainGraph = false)
    {
        if (!root.RequiresGrad)
            throw new InvalidOperationException("element 0 of tensors does not require grad and does not have a grad_fn");
        if (gradient == null)
        {
            if (root.Numel != 1)
                throw new InvalidOperationException($"grad can be implicitly created only for scalar outputs, got shape {Shapes.Format(root.Shape)}");
            gradient = Tensor.OnesLike(root);
        }
        else if (!Shapes.Equal(gradient.Shape, root.Shape))
            throw new ArgumentException($"gradient shape {Shapes.Format(gradient.Shape)} does not match output shape {Shapes.Format(root.Shape)}");

        var order = TopologicalOrder(root);
        foreach (var t in order)
            if (t.GradFn is { Freed: true } n)
                throw new InvalidOperationException(
                    $"Trying to backward through the graph a second time ({n.Name}): its saved activations were released " +
                    "after the first backward. Pass retainGraph: true to the first Backward call to keep them.");
        var grads = new Dictionary<Tensor, Tensor>(ReferenceEqualityComparer.Instance) { [root] = gradient };
        // Gradient temporaries allocated during this pass are recycled as soon as no pending gradient refers to
        // their storage (counted per array: pass-through closures and views share storage).
        var pending = new Dictionary<float[], int>(ReferenceEqualityComparer.Instance) { [gradient.Storage] = 1 };
        var candidates = new List<float[]>();
        using var _ = GradMode.NoGrad(); // gradients are plain values (no higher-order graphs)
        using var tracked = StoragePool.Track();
        for (int i = order.Count - 1; i >= 0; i--)
        {
            var t = order[i];
            if (!grads.Remove(t, out var g)) continue;
            Unref(pending, g);
            candidates.Add(g.Storage);
            if (t.GradFn == null)
                Accumulate(t, g);
            else
            {
                var node = t.GradFn;
                node.CheckVersions(t);
                var inGrads = node.Backward(g);
                for (int k = 0; k < node.Inputs.Length; k++)
                {
                    var inp = node.Inputs[k];
                    var ig = inGrads[k];
                    if (ig == null || !inp.RequiresGrad) continue;
                    if (!Shapes.Equal(ig.Shape, inp.Shape))
                        throw new InvalidOperationException($"internal: {node.Name} backward produced gradient {Shapes.Format(ig.Shape)} for input {Shapes.Format(inp.Shape)}");
                    candidates.Add(ig.Storage);
                    var stored = ig;
                    if (grads.TryGetValue(inp, out var existing))
                    {
                        stored = AddGrads(existing, ig);
                        Unref(pending, existing);
                        candidates.Add(existing.Storage);
                    }
                    grads[inp] = stored;
                    pending[stored.Storage] = pending.GetValueOrDefault(stored.Storage) + 1;
                }
            }
            foreach (var a in candidates)
                if (!pending.ContainsKey(a) && tracked.Born.Remove(a)) StoragePool.Return(a);
            candidates.Clear();
        }
        if (!retainGraph) ReleaseActivations(order);
    }

    /// <summary>
    /// PyTorch frees a graph's saved tensors after backward; here the activations a scoped module forward owns
    /// go back to the storage pool for the next step, and every node is marked so a second backward fails clearly.
    /// </summary>
    private static void ReleaseActivations(List<Tensor> order)
    {
        bool any = false;
        foreach (var t in order)
            if (t.GradFn is { OwnedActivations: { } owned } node)
            {
                node.OwnedActivations = null;
                Tensor.ReleaseStorage(owned);
                any = true;
            }
        if (!any) return;
        foreach (var t in order)
            if (t.GradFn != null) t.GradFn.Freed = true;
    }

    private static void Unref(Dictionary<float[], int> pending, Tensor t)
    {
        if (pending.TryGetValue(t.Storage, out var n))
        {
            if (n <= 1) pending.Remove(t.Storage); else pending[t.Storage] = n - 1;
        }
    }

    private static Tensor AddGrads(Tensor a, Tensor b)
    {
        // Gradients produced by backward closures are fresh tensors we own, except when a closure passes its
        // incoming gradient through unchanged; never write into those, allocate instead.
        // A residual network sums its two branches' input gradients here once per block (4 MB each in ResNet-56's
        // first stage): split across threads like the forward add.
        var r = Tensor.Empty(a.ShapeArray);
        Kernels.ElementwiseKernels.Add(a.Storage, a.Offset, b.Storage, b.Offset, r.Storage, r.Offset, r.Numel);
        return r;
    }

    /// <summary>
    /// For ops whose weight gradient is a big GEMM: when <paramref name="p"/> is a leaf whose .Grad already
    /// exists, the op may add its gradient straight into it (as PyTorch's AccumulateGrad does with grad +=) and
    /// return null for that input, instead of producing a temporary the size of the parameter.
    /// </summary>
    internal static bool CanAccumulateInto(Tensor p, out Tensor grad)
    {
        grad = p.Grad!;
        return p.RequiresGrad && p.GradFn == null && grad != null && grad.GradFn == null
            && Shapes.Equal(grad.ShapeArray, p.ShapeArray);
    }

    private static void Accumulate(Tensor leaf, Tensor g)
    {
        if (leaf.Grad == null)
            leaf.Grad = g.Clone(); // .grad owns fresh storage: g may be recycled or alias another gradient
        else
        {
            System.Numerics.Tensors.TensorPrimitives.Add(leaf.Grad.Data, g.Data, leaf.Grad.Data);
            leaf.Grad.MarkChanged();
        }
    }

    private static List<Tensor> TopologicalOrder(Tensor root)
    {
        var order = new List<Tensor>();
        var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(Tensor t, int next)>();
        stack.Push((root, 0));
        visited.Add(root);
        while (stack.Count > 0)
        {
            var (t, next) = stack.Pop();
            var inputs = t.GradFn?.Inputs;
            if (inputs != null && next < inputs.Length)
            {
                stack.Push((t, next + 1));
                var c = inputs[next];
                if (c.RequiresGrad && visited.Add(c)) stack.Push((c, 0));
            }
            else order.Add(t);
        }
        return order; // children before parents; root last
    }
}
