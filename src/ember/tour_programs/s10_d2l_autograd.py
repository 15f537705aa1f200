import ember as torch
x= torch.arange(4.0)
print(repr(x))
x.requires_grad_(True) # 等价于x=torch.arange(4.0,requires_grad=True)
print(repr(x.grad))
y= 2*torch.dot(x,x)
print(repr(y))
y.backward()
print(repr(x.grad))
print(repr(x.grad==4*x))
# 在默认情况下，pytorch会累积梯度，我们需要清楚之前的值
x.grad.zero_()
y=x.sum()
y.backward()
print(repr(x.grad))
x.grad.zero_()
y=x*x
# 等价于y.gradward(torch.ones(len(x)))
y.sum().backward()
print(repr(x.grad))
x.grad.zero_()
y=x*x

u=y.detach()
z= u*x
z.sum().backward()
print(repr(x.grad==u))
x.grad.zero_()
y.sum().backward()
x.grad==2*x
print(repr(x.grad))
