using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SharpPrune.Autograd;
using SharpPrune.NN;
using SharpPrune.Tests.Core;

namespace SharpPrune.Tests.Onnx;

/// <summary>Runs ONNX bytes in ONNX Runtime (the reference for our exports) and compares with our forward.</summary>
internal static class OnnxRuntimeRunner
{
    public static Tensor Run(byte[] onnx, Tensor input)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 2 };
        using var session = new InferenceSession(onnx, options);
        var x = new DenseTensor<float>(input.ToArray(), input.Shape.ToArray());
        using var results = session.Run(new[] { NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.First(), x) });
        var y = results.First().AsTensor<float>();
        return new Tensor(y.ToArray(), y.Dimensions.ToArray());
    }

    public static Tensor Ours(Module model, Tensor input)
    {
        model.Eval();
        using (GradMode.NoGrad()) return model.Forward(input.Clone()).Clone();
    }

    /// <summary>ONNX Runtime's output equals ours at batch 1 and 7 (1e-4, relative to the output's scale).</summary>
    public static void AssertAgrees(Module model, byte[] onnx, int[] inputShape, string what)
    {
        foreach (int batch in new[] { 1, 7 })
        {
            var x = Tensor.Randn(new Generator((ulong)(batch + 11)), new[] { batch }.Concat(inputShape).ToArray());
            var expected = Ours(model, x);
            var actual = Run(onnx, x);
            float scale = Math.Max(1f, expected.ToArray().Max(MathF.Abs));
            TensorAssert.Close(expected, actual, 1e-4, $"{what} batch {batch}", atol: 1e-4 * scale);
        }
    }
}
