using SharpPrune.Autograd;
using SharpPrune.NN;
using SharpPrune.Vision.Data;

namespace SharpPrune.Vision.Training;

/// <summary>Mean loss and accuracy (percent) over a dataset.</summary>
public sealed record EvalResult(double Loss, double Accuracy, int Correct, int Count);

public static class Evaluator
{
    /// <summary>Runs the model in eval mode without autograd over every batch of epoch 0 of <paramref name="loader"/>.
    /// The model's train/eval mode is restored afterwards.</summary>
    public static EvalResult Evaluate(Module model, DataLoader loader)
    {
        bool wasTraining = model.Training;
        model.Eval();
        try
        {
            using var _ = GradMode.NoGrad();
            double lossSum = 0;
            int correct = 0, count = 0;
            foreach (var batch in loader.Epoch(0))
            {
                var logits = model.Forward(batch.Images);
                lossSum += (double)F.CrossEntropy(logits, batch.Labels).Item() * batch.Count;
                correct += Metrics.CountCorrect(logits, batch.Labels);
                count += batch.Count;
            }
            if (count == 0) throw new InvalidOperationException($"cannot evaluate on {loader.Dataset.Name}: it has no images");
            return new EvalResult(lossSum / count, 100.0 * correct / count, correct, count);
        }
        finally
        {
            model.Train(wasTraining);
        }
    }
}

public static class Metrics
{
    /// <summary>How many rows of (N, C) logits have their largest value (first on ties) at the target class.</summary>
    public static int CountCorrect(Tensor logits, int[] targets)
    {
        if (logits.Dim != 2 || logits.Size(0) != targets.Length)
            throw new ArgumentException($"expected logits (N={targets.Length}, C), got {Shapes.Format(logits.Shape)}");
        int n = logits.Size(0), c = logits.Size(1), correct = 0;
        var d = logits.Data;
        for (int i = 0; i < n; i++)
        {
            var row = d.Slice(i * c, c);
            int best = 0;
            for (int j = 1; j < c; j++) if (row[j] > row[best]) best = j;
            if (best == targets[i]) correct++;
        }
        return correct;
    }
}
