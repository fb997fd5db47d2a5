using SharpPrune.NN;

namespace SharpPrune.Onnx;

/// <summary>One call of a module the exporter converts as a whole (a layer such as Conv2d), seen by a forward hook.</summary>
internal sealed record ModuleCall(string Path, Module Module, Tensor Input, Tensor Output);

/// <summary>
/// What one forward pass of a model did, recovered generically: calls of the modules the exporter knows
/// (<see cref="OnnxOps.IsLayer"/>, seen through forward hooks) and, between them, the ops the containers ran
/// themselves (the residual add, a flatten), read back from the autograd graph the pass recorded. Nothing here
/// knows a particular model: a container's forward is whatever ops it ran.
/// </summary>
internal sealed class ModelTrace
{
    public required Tensor Input { get; init; }
    public required Tensor Output { get; init; }
    public required Dictionary<Tensor, ModuleCall> CallsByOutput { get; init; }

    /// <summary>
    /// Runs <paramref name="model"/> in eval mode on a random batch of <paramref name="batch"/> inputs of shape
    /// <paramref name="inputShape"/> with recording on (the input requires grad, so every op is recorded even when
    /// the parameters are frozen). The model's mode is restored afterwards; its weights are not touched.
    /// </summary>
    public static ModelTrace Run(Module model, IReadOnlyList<int> inputShape, int batch)
    {
        bool wasTraining = model.Training;
        var calls = new Dictionary<Tensor, ModuleCall>(ReferenceEqualityComparer.Instance);
        var handles = new List<HookHandle>();
        try
        {
            model.Eval();
            foreach (var (path, m) in model.NamedModules())
            {
                if (!OnnxOps.IsLayer(m)) continue;
                string p = path;
                handles.Add(m.RegisterForwardHook((mod, input, output) =>
                {
                    // Identity and eval-mode Dropout hand their input back: nothing to convert.
                    if (!ReferenceEquals(input, output)) calls[output] = new ModuleCall(p, mod, input, output);
                    return null;
                }));
            }
            var shape = new int[inputShape.Count + 1];
            shape[0] = batch;
            for (int i = 0; i < inputShape.Count; i++) shape[i + 1] = inputShape[i];
            var x = Tensor.Randn(new Generator(0), shape).RequiresGrad_();
            // An export under GradMode.NoGrad() would record no graph between the layers.
            if (!Autograd.GradMode.IsEnabled)
                throw new InvalidOperationException("ONNX export traces the model with autograd recording on; call it outside GradMode.NoGrad()");
            var y = model.Forward(x);
            return new ModelTrace { Input = x, Output = y, CallsByOutput = calls };
        }
        finally
        {
            foreach (var h in handles) h.Remove();
            model.Train(wasTraining);
        }
    }

    /// <summary>The tensors <paramref name="t"/> was computed from, as the exporter sees them.</summary>
    public IReadOnlyList<Tensor> Sources(Tensor t)
    {
        if (ReferenceEquals(t, Input)) return Array.Empty<Tensor>();
        if (CallsByOutput.TryGetValue(t, out var call)) return new[] { call.Input };
        // A concat with zeros is zero padding (the exporter writes Pad): the zeros are not part of the graph.
        if (t.GradFnName == "CatBackward") return t.GradFnInputs.Where(i => !IsZeroConstant(i)).ToArray();
        return t.GradFnInputs;
    }

    /// <summary>A tensor not computed from the input and all zeros (an option-A shortcut's padding channels).</summary>
    public static bool IsZeroConstant(Tensor t)
    {
        if (!t.IsLeaf || t.RequiresGrad) return false;
        foreach (float v in t.Data) if (v != 0f) return false;
        return true;
    }

    /// <summary>How many times each reachable tensor is read, walking back from the output.</summary>
    public Dictionary<Tensor, int> UseCounts()
    {
        var uses = new Dictionary<Tensor, int>(ReferenceEqualityComparer.Instance);
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance) { Output };
        var stack = new Stack<Tensor>();
        stack.Push(Output);
        while (stack.Count > 0)
        {
            var t = stack.Pop();
            foreach (var s in Sources(t))
            {
                uses[s] = uses.GetValueOrDefault(s) + 1;
                if (seen.Add(s)) stack.Push(s);
            }
        }
        return uses;
    }
}
