using System.Collections.Concurrent;
using System.Reflection;
using SharpPrune.Autograd;

namespace SharpPrune.NN;

/// <summary>
/// The activation memory policy, in one place. Float arrays come from and go back to <c>StoragePool</c>; this class
/// decides when an activation may go back, which is only when nothing can read it again:
/// <list type="bullet">
/// <item><b>Inference (no-grad), recycling.</b> A container (<see cref="Container.Chain(Tensor, IReadOnlyList{Module})"/>,
/// or a model's own forward through <see cref="Container.Recycle"/>) returns an intermediate activation as soon as
/// the next module has consumed it, if neither the module that produced it nor the one that consumed it — their
/// descendants and hooks included — may keep a reference (<see cref="Module.RetainsNoTensors"/>). The caller's input,
/// views and tensors sharing storage with the consumer's output are never returned (<see cref="Tensor.Recycle"/>).</item>
/// <item><b>Training, release after backward.</b> A top-level <see cref="Module.Forward"/> while recording, through
/// modules that keep no tensors, hands every tensor it created (except its output, its input and what the modules
/// hold) to the output's graph node (<see cref="ScopedForward"/>); the backward through that node releases them
/// (<c>Engine.ReleaseActivations</c>), as PyTorch frees saved tensors. Gradient temporaries born during a backward go
/// back as soon as the engine has consumed them (<c>Engine</c>, <c>StoragePool.Track</c>).</item>
/// <item><b>Version counters.</b> Every in-place write bumps <see cref="Tensor.Version"/>; a graph node records the
/// versions of what its backward reads and fails clearly if they changed (<c>GradNode.CheckVersions</c>). A tensor
/// whose array went back loses it, so any later use throws instead of reading reused memory.</item>
/// <item><b>Fusion.</b> Under no-grad, containers run Conv2d → eval BatchNorm2d [→ ReLU] as one pass when no hook
/// could observe the intermediates (<see cref="Container"/>); bit-for-bit the separate modules.</item>
/// </list>
/// Which modules may keep tensors: a module declared in an assembly marked with
/// <see cref="ModulesRetainNoTensorsAttribute"/> (SharpPrune.Core's layers and containers, SharpPrune.Vision's
/// models) keeps none unless it says otherwise; any other module is assumed to keep what it sees, which only turns
/// recycling off around it. A module may override <c>MayRetainTensors</c> either way.
/// </summary>
public static class ActivationMemory
{
    private static readonly ConcurrentDictionary<Type, bool> MayRetainByType = new();

    /// <summary>The default of <c>Module.MayRetainTensors</c> for a module type (computed once per type).</summary>
    internal static bool MayRetainByDefault(Type moduleType) =>
        MayRetainByType.GetOrAdd(moduleType, t => !t.Assembly.IsDefined(typeof(ModulesRetainNoTensorsAttribute), inherit: false));

    /// <summary>
    /// Under no-grad, returns <paramref name="t"/>'s storage to the pool: <paramref name="t"/> was produced by
    /// <paramref name="producer"/> and last used by <paramref name="consumer"/> (null: by a plain op in the
    /// caller), which returned <paramref name="consumerOutput"/>. Skipped whenever anything might still hold it.
    /// The caller guarantees that it does not use <paramref name="t"/> again.
    /// </summary>
    internal static void Recycle(Tensor t, Module producer, Module? consumer, Tensor? consumerOutput)
    {
        if (GradMode.IsEnabled) return;
        if (consumerOutput != null && t.SharesStorageWith(consumerOutput)) return;
        if (!producer.RetainsNoTensors() || (consumer != null && !consumer.RetainsNoTensors())) return;
        t.Recycle();
    }

    /// <summary>
    /// A top-level forward while recording, through modules that keep no tensors: every tensor it creates except
    /// the output (and what shares its storage), the input, and what the modules hold (parameters, buffers,
    /// attributes such as a pruned weight) is reachable only through the graph. The output's node owns them and
    /// the backward through it hands their storage back to the pool, so training reuses its activation buffers
    /// step after step instead of allocating them.
    /// </summary>
    internal static Tensor ScopedForward(Module module, Tensor input)
    {
        var created = new List<Tensor>();
        var previous = Tensor.BeginCreatedScope(created);
        Tensor output;
        try { output = module.NestedForward(input); }
        finally { Tensor.EndCreatedScope(previous); }
        if (output.GradFn == null || created.Count == 0) return output;
        var keep = new HashSet<float[]>(ReferenceEqualityComparer.Instance) { output.Storage, input.Storage };
        foreach (var m in module.Modules()) m.AddHeldStorage(keep);
        var owned = created.FindAll(t => !keep.Contains(t.Storage));
        if (owned.Count > 0) (output.GradFn.OwnedActivations ??= new List<Tensor>()).AddRange(owned);
        return output;
    }
}

/// <summary>
/// Declares that the modules defined in this assembly keep no reference to the tensors their forward receives or
/// returns (no caches, no recordings), so containers may recycle activations around them under no-grad. An
/// assembly that defines a module which does keep tensors overrides <c>MayRetainTensors</c> => true on it.
/// </summary>
[AttributeUsage(AttributeTargets.Assembly)]
public sealed class ModulesRetainNoTensorsAttribute : Attribute { }
