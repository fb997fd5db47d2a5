using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Xunit.Sdk;

namespace SharpPrune.Tests.Core;

/// <summary>
/// The outputs of an op under test, by name ("" for a single output). Converts from a tensor and from
/// values-with-indices so the case tables stay one lambda per line.
/// </summary>
internal sealed class Outs : Dictionary<string, Tensor>
{
    public static implicit operator Outs(Tensor t) => new() { [""] = t };
    public static implicit operator Outs(ValuesIndices vi) => new() { ["values"] = vi.Values, ["indices"] = Indices(vi) };

    /// <summary>Indices as an exact float tensor shaped like the values (how the fixture stores them).</summary>
    public static Tensor Indices(ValuesIndices vi) => new(vi.Indices.Select(i => (float)i).ToArray(), vi.Values.ShapeCopy());
}

/// <summary>
/// One fixture file of scripts/make_core_fixtures.py. Per case it holds <c>case.in.*</c> inputs, <c>case.out[.name]</c>
/// outputs, <c>case.gout[.name]</c> upstream gradients, <c>case.grad.*</c> input gradients and <c>case.state.*</c>
/// in-place results; <see cref="Check"/> replays a case and compares everything it holds.
/// </summary>
internal sealed class CoreFixture
{
    private static readonly ConcurrentDictionary<string, CoreFixture> Cache = new();
    private static readonly Regex CaseKey = new(@"^(.*?)\.(in|out|gout|grad|state)(\.|$)", RegexOptions.Compiled);

    private readonly Dictionary<string, Tensor> _tensors;
    public string File { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private CoreFixture(string file)
    {
        File = file;
        var st = Fixtures.Load("core", file);
        _tensors = st.Tensors.ToDictionary(kv => kv.Key, kv => kv.Value);
        Metadata = st.Metadata;
    }

    /// <summary>Loaded once per test run; callers get clones, so tests cannot disturb each other.</summary>
    public static CoreFixture Get(string file) => Cache.GetOrAdd(file, f => new CoreFixture(f));

    public bool Has(string key) => _tensors.ContainsKey(key);

    public Tensor this[string key] => _tensors.TryGetValue(key, out var t)
        ? t.Clone()
        : throw new XunitException($"{File} has no tensor '{key}' (regenerate with scripts/make_core_fixtures.py?)");

    public int[] Ints(string key) => this[key].ToArray().Select(v => checked((int)v)).ToArray();

    /// <summary>Case names found in the file.</summary>
    public IReadOnlyCollection<string> Cases =>
        _tensors.Keys.Select(k => CaseKey.Match(k)).Where(m => m.Success).Select(m => m.Groups[1].Value).ToHashSet();

    /// <summary>Fails when the file has a case no test runs, or a test names a case the file lacks.</summary>
    public void AssertCovers(IEnumerable<string> tested)
    {
        var t = tested.ToHashSet();
        var untested = Cases.Where(c => !t.Contains(c)).Order().ToList();
        var absent = t.Where(c => !Cases.Contains(c)).Order().ToList();
        if (untested.Count > 0 || absent.Count > 0)
            throw new XunitException($"{File}: cases without a test: [{string.Join(", ", untested)}]; tested cases missing from the file: [{string.Join(", ", absent)}]");
    }

    private IEnumerable<string> Suffixes(string prefix) =>
        _tensors.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Select(k => k[prefix.Length..]).Order();

    /// <summary>
    /// Runs <paramref name="op"/> on the case's inputs (those with a stored gradient require grad), compares every
    /// stored output, back-propagates Σ out·gout and compares every stored gradient and in-place state.
    /// Outputs named "indices" must match exactly.
    /// </summary>
    public void Check(string c, Func<IReadOnlyDictionary<string, Tensor>, Outs> op, double rtol = 1e-5)
    {
        var inputs = new Dictionary<string, Tensor>();
        foreach (var name in Suffixes(c + ".in."))
        {
            var t = this[$"{c}.in.{name}"];
            if (Has($"{c}.grad.{name}")) t.RequiresGrad_();
            inputs[name] = t;
        }
        if (inputs.Count == 0) throw new XunitException($"{File}: case '{c}' has no inputs");

        var outs = op(inputs);
        var expectedOuts = _tensors.Keys.Where(k => k == c + ".out" || k.StartsWith(c + ".out.", StringComparison.Ordinal))
            .Select(k => k.Length == c.Length + 4 ? "" : k[(c.Length + 5)..]).ToHashSet();
        if (!expectedOuts.SetEquals(outs.Keys))
            throw new XunitException($"{File}/{c}: op returned outputs [{string.Join(", ", outs.Keys)}], fixture has [{string.Join(", ", expectedOuts)}]");

        Tensor? objective = null;
        foreach (var (name, actual) in outs)
        {
            string suffix = name.Length == 0 ? "" : "." + name;
            var expected = this[$"{c}.out{suffix}"];
            if (name == "indices") TensorAssert.Equal(expected, actual, $"{File}/{c} indices");
            else TensorAssert.Close(expected, actual, rtol, $"{File}/{c} output{suffix}");
            if (Has($"{c}.gout{suffix}"))
            {
                var term = (actual * this[$"{c}.gout{suffix}"]).Sum();
                objective = objective == null ? term : objective + term;
            }
        }

        var grads = Suffixes(c + ".grad.").ToList();
        if (grads.Count > 0)
        {
            if (objective == null) throw new XunitException($"{File}/{c}: gradients stored but no upstream gradient");
            objective.Backward();
            foreach (var name in grads)
            {
                var g = inputs[name].Grad ?? throw new XunitException($"{File}/{c}: input '{name}' got no gradient");
                TensorAssert.Close(this[$"{c}.grad.{name}"], g, rtol, $"{File}/{c} grad of {name}");
            }
        }
        foreach (var name in Suffixes(c + ".state."))
            TensorAssert.Close(this[$"{c}.state.{name}"], inputs[name], rtol, $"{File}/{c} state {name} after the op");
    }
}
