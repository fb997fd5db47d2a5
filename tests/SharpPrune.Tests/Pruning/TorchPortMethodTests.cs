using SharpPrune.NN;
using SharpPrune.Pruning;
using static SharpPrune.Tests.Pruning.PruningTestModules;

namespace SharpPrune.Tests.Pruning;

/// <summary>
/// PyTorch's TestPruningNN (test/nn/test_pruning.py), the methods half: containers, L1/Ln, global, custom masks,
/// <c>prune()</c>. PyTorch's TypeErrors (adding 10 or "ugh" to a container) cannot be written in C#.
/// </summary>
public class TorchPortMethodTests
{
    private static readonly Tensor T18 = T(new float[,] { { 1, 2, 3, 4 }, { 5, 6, 7, 8 } });
    private static readonly Tensor DefaultMask = T(new float[,] { { 1, 1, 1, 0 }, { 1, 1, 0, 1 } });

    [Fact] // test_pruning_container
    public void PruningContainerAdd()
    {
        var container = new PruningContainer { TensorName = "test" };
        Assert.Equal(0, container.Count);

        var p = new L1Unstructured(2) { TensorName = "test" };
        container.Add(p);
        Assert.Same(p, Assert.Single(container.Methods));

        var q = new L1Unstructured(2) { TensorName = "another_test" };
        var e = Assert.Throws<ArgumentException>(() => container.Add(q));
        Assert.StartsWith("Can only add pruning methods acting on the parameter named 'test' to PruningContainer", e.Message);
        Assert.EndsWith("Found 'another_test'", e.Message);

        Assert.Throws<ArgumentException>(() => container.Add(new PruningContainer(new L1Unstructured(1) { TensorName = "test" })));
        Assert.Equal(1, container.Count);
    }

    [Fact] // test_pruning_container_compute_mask
    public void PruningContainerComputeMask()
    {
        var container = new PruningContainer { TensorName = "test" };
        container.Add(new L1Unstructured(2) { TensorName = "test" });
        AssertTensor(T(new float[,] { { 0, 0, 1, 0 }, { 1, 1, 0, 1 } }), container.ComputeMask(T18, DefaultMask));

        container.Add(new LnStructured(1, 2, dim: 0) { TensorName = "test" });
        AssertTensor(T(new float[,] { { 0, 0, 0, 0 }, { 1, 1, 0, 1 } }), container.ComputeMask(T18, DefaultMask));

        container.Add(new LnStructured(1, 2, dim: 1) { TensorName = "test" });
        AssertTensor(T(new float[,] { { 0, 1, 1, 0 }, { 0, 1, 0, 1 } }), container.ComputeMask(T18, DefaultMask));
        AssertTensor(T(new float[,] { { 1, 1, 1, 0 }, { 1, 1, 0, 1 } }), DefaultMask); // inputs untouched
    }

    private static Linear Linear42()
    {
        var m = new Linear(4, 2, generator: new Generator(1));
        SetData(m, "weight", T(new float[,] { { 1, 2, 3, 4 }, { -4, -3, -2, -1 } }));
        return m;
    }

    [Fact] // test_l1_unstructured_pruning
    public void L1UnstructuredPruning()
    {
        var m = Linear42();
        Prune.L1Unstructured(m, "weight", 2);
        AssertTensor(T(new float[,] { { 0, 2, 3, 4 }, { -4, -3, -2, 0 } }), m.Weight);
        Prune.L1Unstructured(m, "weight", 2); // the next two smallest
        AssertTensor(T(new float[,] { { 0, 0, 3, 4 }, { -4, -3, 0, 0 } }), m.Weight);
    }

    [Fact] // test_l1_unstructured_pruning_with_importance_scores
    public void L1UnstructuredPruningWithImportanceScores()
    {
        var m = Linear42();
        var scores = T(new float[,] { { 4, 2, 1, 3 }, { -3, -1, -2, -4 } });
        Prune.L1Unstructured(m, "weight", 2, importanceScores: scores);
        AssertTensor(T(new float[,] { { 1, 2, 0, 4 }, { -4, 0, -2, -1 } }), m.Weight);
        Prune.L1Unstructured(m, "weight", 2, importanceScores: scores);
        AssertTensor(T(new float[,] { { 1, 0, 0, 4 }, { -4, 0, 0, -1 } }), m.Weight);
    }

    private static Tensor RandomTwos(Generator g, params int[] shape)
    {
        var t = Tensor.Zeros(shape);
        var d = t.Data;
        for (int i = 0; i < d.Length; i++) d[i] = 2 * (g.NextInt(3) - 1); // {-2, 0, 2}
        return t;
    }

    [Fact] // test_unstructured_pruning_same_magnitude
    public void UnstructuredPruningSameMagnitude()
    {
        const double amount = 0.2;
        var p = new L1Unstructured(amount);
        var t = RandomTwos(new Generator(13), 10, 7);
        int expected = ((Amount)amount).ComputeCount(t.Numel);
        var mask = p.ComputeMask(t, Tensor.OnesLike(t));
        Assert.Equal(expected, mask.Numel - mask.CountNonZero()); // the bottom k, not all entries at the threshold
    }

    [Fact] // test_random_structured_pruning_amount
    public void RandomStructuredPruningAmount()
    {
        const int axis = 2;
        var p = new RandomStructured(0.6, axis, new Generator(14));
        var t = RandomTwos(new Generator(15), 5, 4, 2);
        var mask = p.ComputeMask(t, Tensor.OnesLike(t));
        var zerosPerColumn = new int[2];
        for (int i = 0; i < 5; i++) for (int j = 0; j < 4; j++) for (int k = 0; k < 2; k++)
            if (mask[i, j, k] == 0) zerosPerColumn[k]++;
        Assert.Equal(new[] { 0, 20 }, zerosPerColumn.Order().ToArray());
    }

    private static readonly Tensor LnWeight = new(new float[] { 1.0f, 2.0f, 1.0f, 2.5f, 0.5f, 1.0f, 0.1f, 0.1f, -3.0f, -5.0f, 0.1f, -1.0f }, 1, 3, 2, 2);

    [Fact] // test_ln_structured_pruning
    public void LnStructuredPruning()
    {
        var m = new Conv2d(3, 1, 2, generator: new Generator(16));
        SetData(m, "weight", LnWeight);
        var expected = Tensor.Ones(1, 3, 2, 2);
        for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) expected[0, 1, i, j] = 0;
        Prune.LnStructured(m, "weight", 1, 2, dim: 1);
        AssertTensor(expected, m["weight_mask"]!);

        for (int c = 0; c < 3; c++) for (int i = 0; i < 2; i++) expected[0, c, i, 0] = 0;
        Prune.LnStructured(m, "weight", 1, 1, dim: -1);
        AssertTensor(expected, m["weight_mask"]!);
    }

    [Fact] // test_ln_structured_pruning_importance_scores
    public void LnStructuredPruningImportanceScores()
    {
        var m = new Conv2d(3, 1, 2, generator: new Generator(17));
        SetData(m, "weight", LnWeight);
        var scores = new Tensor(new float[] { 10, 1, 10, 1, 30, 3, 30, 3, -20, -2, -20, -2 }, 1, 3, 2, 2);
        var expected = Tensor.Ones(1, 3, 2, 2);
        for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) expected[0, 0, i, j] = 0;
        Prune.LnStructured(m, "weight", 1, 2, dim: 1, importanceScores: scores);
        AssertTensor(expected, m["weight_mask"]!);

        for (int c = 0; c < 3; c++) for (int i = 0; i < 2; i++) expected[0, c, i, 1] = 0;
        Prune.LnStructured(m, "weight", 1, 1, dim: -1, importanceScores: scores);
        AssertTensor(expected, m["weight_mask"]!);
    }

    private static (Linear M, Linear N) GlobalPair()
    {
        var m = Linear42();
        var n = new Linear(3, 1, generator: new Generator(2));
        SetData(n, "weight", T(new float[,] { { 0, 0.1f, -2 } }));
        return (m, n);
    }

    [Fact] // test_global_pruning
    public void GlobalPruning()
    {
        var (m, n) = GlobalPair();
        Prune.GlobalUnstructured(new (Module, string)[] { (m, "weight"), (n, "weight") }, GlobalPruningMethod.L1Unstructured, 4);
        AssertTensor(T(new float[,] { { 0, 2, 3, 4 }, { -4, -3, -2, 0 } }), m.Weight);
        AssertTensor(T(new float[,] { { 0, 0, -2 } }), n.Weight);
    }

    [Fact] // test_global_pruning_importance_scores
    public void GlobalPruningImportanceScores()
    {
        var (m, n) = GlobalPair();
        var scores = new Dictionary<(Module, string), Tensor>
        {
            [(m, "weight")] = T(new float[,] { { 4, 2, 1, 3 }, { -3, -1, -2, -4 } }),
            [(n, "weight")] = T(new float[,] { { 0, 10, -0.2f } }),
        };
        Prune.GlobalUnstructured(new (Module, string)[] { (m, "weight"), (n, "weight") }, GlobalPruningMethod.L1Unstructured, 4, scores);
        AssertTensor(T(new float[,] { { 1, 2, 0, 4 }, { -4, 0, -2, -1 } }), m.Weight);
        AssertTensor(T(new float[,] { { 0, 0.1f, 0 } }), n.Weight);
    }

    [Fact] // test_custom_from_mask_pruning
    public void CustomFromMaskPruning()
    {
        var mask = T(new float[,] { { 0, 1, 1, 0 }, { 0, 0, 1, 1 } });
        var defaultMask = T(new float[,] { { 0, 0, 0, 0 }, { 1, 1, 1, 1 } });
        var t = Tensor.Rand(new Generator(18), 2, 4);
        var computed = new CustomFromMask(mask).ComputeMask(t, defaultMask);
        AssertTensor(T(new float[,] { { 0, 0, 0, 0 }, { 0, 0, 1, 1 } }), computed);
    }

    [Fact] // test_prune
    public void PruneTensor()
    {
        var p = new L1Unstructured(2);
        var expectedMask = T(new float[,] { { 0, 0, 1, 0 }, { 1, 1, 0, 1 } });
        AssertTensor(T18 * expectedMask, p.Prune(T18, DefaultMask));
    }

    [Fact] // test_prune_importance_scores
    public void PruneImportanceScores()
    {
        var p = new L1Unstructured(2);
        var scores = T(new float[,] { { 1, 2, 3, 4 }, { 1.5f, 1.6f, 1.7f, 1.8f } });
        var expectedMask = T(new float[,] { { 0, 1, 1, 0 }, { 0, 1, 0, 1 } });
        AssertTensor(T18 * expectedMask, p.Prune(T18, DefaultMask, importanceScores: scores));
    }

    [Fact] // test_prune_importance_scores_mimic_default
    public void PruneImportanceScoresMimicDefault()
    {
        var p = new L1Unstructured(2);
        var expectedMask = T(new float[,] { { 0, 0, 1, 0 }, { 1, 1, 0, 1 } });
        var without = p.Prune(T18, DefaultMask);
        var with = p.Prune(T18, DefaultMask, importanceScores: T18);
        AssertTensor(without, with);
        AssertTensor(T18 * expectedMask, without);
    }

    // test_rnn_pruning is not ported: there is no LSTM (nor its _flat_weights) in SharpPrune.
}
